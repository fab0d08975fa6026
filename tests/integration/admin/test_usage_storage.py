"""Storage in the daily usage, over real HTTP with the storage meter sampling every second:
a tenant's library files, an unfinished upload (made through the uploads API) and its
catch-up archive add up on today's row; the day keeps its highest figure after files go;
the JSON and CSV exports carry it; each tenant sees only its own."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.admin_api import TenantWorld, created, make_tenant, root_client
from support.server import RunningServer, make_settings, run_server


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    settings = make_settings(tmp_path, database_url, storage_sample_seconds=1)
    with run_server(settings) as running:
        yield running


def _today_row(c: httpx.Client, tenant_id: int) -> dict[str, Any] | None:
    today = datetime.now(UTC).date().isoformat()
    r = c.get("/api/v1/usage", params={"start": today})
    assert r.status_code == 200, r.text
    rows = [i for i in r.json()["items"] if i["tenant_id"] == tenant_id]
    assert len(rows) <= 1
    return rows[0] if rows else None


def _wait_storage(world: TenantWorld, expected: int, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    row: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        with world.client() as c:
            row = _today_row(c, world.id)
        if row is not None and row["storage_bytes"] == expected:
            return row
        time.sleep(0.3)
    raise AssertionError(f"storage never reached {expected}: {row}")


def _write(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x47" * size)


def test_storage_is_metered_per_tenant_per_day(server: RunningServer) -> None:
    settings = server.ctx.settings
    media, archive = settings.effective_media_root, settings.effective_archive_root
    alpha, bravo = make_tenant(server, "alpha"), make_tenant(server, "bravo")
    _write(media / str(alpha.id) / "films" / "big.mkv", 1_000_000)
    _write(archive / str(alpha.id) / "7" / "1764400000.ts", 188 * 400)
    _write(media / str(bravo.id) / "films" / "small.mkv", 5_000)
    # An upload under way holds disk space too.
    with alpha.client() as c:
        upload = created(c.post("/api/v1/uploads", json={"name": "talk.mp4", "total_bytes": 9000}))
        r = c.put(
            f"/api/v1/uploads/{upload['id']}",
            content=b"\0" * 3000,
            headers={"Content-Range": "bytes 0-2999/9000"},
        )
        assert r.status_code == 200, r.text
    parts = [p for p in (media / str(alpha.id)).rglob(f"{upload['id']}.*")]
    assert sorted(p.suffix for p in parts) == [".json", ".part"]
    upload_bytes = sum(p.stat().st_size for p in parts)
    assert upload_bytes >= 3000
    expected = 1_000_000 + 188 * 400 + upload_bytes

    row = _wait_storage(alpha, expected)
    assert row["storage_gb"] == round(expected / 1e9, 6)
    assert row["viewer_seconds"] == 0 and row["egress_bytes"] == 0
    _wait_storage(bravo, 5_000)

    # Files removed later the same day: the day keeps its highest sample.
    (media / str(alpha.id) / "films" / "big.mkv").unlink()
    _write(media / str(bravo.id) / "films" / "second.mkv", 20_000)
    _wait_storage(bravo, 25_000)  # samples went on meanwhile
    assert _wait_storage(alpha, expected)["storage_bytes"] == expected

    # Each tenant reads only its own row; the platform admin reads both, also as CSV.
    with bravo.client() as c:
        assert _today_row(c, alpha.id) is None
    today = datetime.now(UTC).date().isoformat()
    with root_client(server) as root:
        exported = root.get("/api/v1/usage", params={"start": today, "format": "csv"})
        assert exported.status_code == 200
        table = {r["tenant_slug"]: r for r in csv.DictReader(io.StringIO(exported.text))}
        assert int(table["alpha"]["storage_bytes"]) == expected
        assert int(table["bravo"]["storage_bytes"]) == 25_000
        assert float(table["bravo"]["storage_gb"]) == 25_000 / 1e9
