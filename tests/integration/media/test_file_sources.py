"""File sources, attacked through the admin API: only the tenant's media folder is read.

Each tenant's files are in <media_root>/<tenant id>/ and a file source's path is read
inside it. /etc/passwd, ../ into another tenant's folder, a symbolic link out, the
database file and a path that does not exist all get the same answer; a file in the
folder plays to a real player.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from palinsesto.outbound.media_files import FILE_REFUSED
from support.admin_api import TenantWorld, make_tenant
from support.media import make_sample_ts, play
from support.server import RunningServer, make_settings, run_server


@pytest.fixture
def panel(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    settings = make_settings(tmp_path / "data", database_url, media_root=tmp_path / "media")
    with run_server(settings) as running:
        yield running


def _refusal(c: httpx.Client, name: str, path: str) -> str:
    """What the owner is told about a file source: at save time, or its first failure."""
    r = c.post("/api/v1/channels", json={"name": name, "sources": [{"kind": "file", "url": path}]})
    if r.status_code == 422:
        return r.text
    assert r.status_code == 201, r.text
    channel_id = r.json()["id"]
    c.post(f"/api/v1/live/channels/{channel_id}/start").raise_for_status()
    deadline = time.monotonic() + 15
    while True:
        status = c.get(f"/api/v1/live/channels/{channel_id}").json()
        if status["failures"]:
            return str(status["failures"][0]["message"])
        assert time.monotonic() < deadline, status
        time.sleep(0.2)


def _folder(panel: RunningServer, tenant: TenantWorld) -> Path:
    folder = panel.ctx.settings.effective_media_root / str(tenant.id)
    folder.mkdir(parents=True)
    return folder


async def test_file_sources_read_only_the_tenants_folder(
    panel: RunningServer, database_url: str, tmp_path: Path
) -> None:
    acme, other = make_tenant(panel, "acme"), make_tenant(panel, "other")
    mine, theirs = _folder(panel, acme), _folder(panel, other)
    make_sample_ts(mine / "loop.ts", 4.0)
    make_sample_ts(theirs / "private.ts", 2.0)
    outside = make_sample_ts(tmp_path / "outside.ts", 2.0)  # valid media, outside the root
    (mine / "passwd.ts").symlink_to("/etc/passwd")
    (mine / "neighbour").symlink_to(theirs, target_is_directory=True)
    (mine / "sub").mkdir()
    database_file = (
        database_url.removeprefix("sqlite:///")
        if database_url.startswith("sqlite")
        else str(tmp_path / "data" / "palinsesto.db")
    )
    attacks = {
        "passwd": "/etc/passwd",
        "traversal": "/../../../../../../etc/passwd",
        "other tenant": f"/../{other.id}/private.ts",
        "deep traversal": f"/sub/../../{other.id}/private.ts",
        "symlink out": "/passwd.ts",
        "symlinked folder": "/neighbour/private.ts",
        "database": database_file,
        "outside media": str(outside),
        "the folder itself": "/",
        "a folder": "/sub",
        "missing": "/no-such-file.ts",
    }
    with acme.client() as c:
        answers = {label: _refusal(c, label, path) for label, path in attacks.items()}
        for label, answer in answers.items():
            assert FILE_REFUSED in answer, (label, answer)
            assert "No such file or directory" not in answer and "ermission" not in answer
        # One message: nothing tells whether the path exists or where the root is.
        assert len({a.replace(attacks[k], "") for k, a in answers.items()}) == 1, answers

        r = c.post(
            "/api/v1/channels",
            json={"name": "Loop", "sources": [{"kind": "file", "url": "/loop.ts"}]},
        )
        assert r.status_code == 201, r.text
        channel_id = r.json()["id"]
        preview = c.post(f"/api/v1/live/channels/{channel_id}/preview").json()["url"]
    frames, err = await play(f"{panel.base_url}{preview}", 2.0)
    assert frames >= 25, err[-2000:]
    with acme.client() as c:
        status = c.get(f"/api/v1/live/channels/{channel_id}").json()
    assert status["failures"] == [], status
    # The owner sees the path they gave, not where the server keeps the file.
    assert status["active_source"]["url"] == "/loop.ts"
    assert str(panel.ctx.settings.effective_media_root) not in str(status)
    assert os.access("/etc/passwd", os.R_OK)  # the refusal was the policy, not the OS

    # A broken file in the folder: ffmpeg's own message, never the server's media root.
    (mine / "broken.ts").write_bytes(b"not a video\n" * 1000)
    with acme.client() as c:
        message = _refusal(c, "Broken", "/broken.ts")
    assert "Invalid data" in message and FILE_REFUSED not in message, message
    assert str(panel.ctx.settings.effective_media_root) not in message
