"""A hostile XMLTV document through the admin API, on SQLite and PostgreSQL: a small gzip
that unpacks into three huge ``<desc>`` texts is refused with a clear error, in bounded
memory, without growing the database, and the previous guide is still the one served."""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

from lxml import etree
from sqlalchemy import func, select, text

from palinsesto.accounts.models import AdminUser, Line, LineBouquet, Role, Tenant
from palinsesto.accounts.security import hash_password
from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ItemType
from palinsesto.epg.models import Programme
from support.server import RunningServer
from support.xmltv_docs import GuideSpec, xmltv_bytes

DESC_BYTES = 60 * 1024 * 1024  # per programme, three of them: 180 MB unpacked
MEMORY_MARGIN = 100 * 1024 * 1024  # the old reader needed more than 180 MB


def _status_kib(field: str) -> int:
    for row in Path("/proc/self/status").read_text().splitlines():
        if row.startswith(field + ":"):
            return int(row.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def _bomb_pieces() -> Iterator[bytes]:
    start = int(time.time()) // 3600 * 3600
    stamp = time.strftime("%Y%m%d%H%M%S +0000", time.gmtime(start))
    stop = time.strftime("%Y%m%d%H%M%S +0000", time.gmtime(start + 3600))
    yield b'<?xml version="1.0" encoding="utf-8"?>\n<tv>\n'
    yield b'<channel id="b0.example"><display-name>Bomb</display-name></channel>\n'
    block = b"A" * (1 << 20)
    for _ in range(3):
        yield (
            f'<programme start="{stamp}" stop="{stop}" channel="b0.example">'
            "<title>Bomb</title><desc>"
        ).encode()
        for _ in range(DESC_BYTES // len(block)):
            yield block
        yield b"</desc></programme>\n"
    yield b"</tv>\n"


def _gzip_bomb() -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [packer.compress(piece) for piece in _bomb_pieces()]
    out.append(packer.flush())
    return b"".join(out)


def _database_bytes(server: RunningServer) -> int:
    url = server.ctx.settings.effective_database_url
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with server.ctx.db.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def _seed(server: RunningServer) -> str:
    with server.ctx.db.transaction() as s:
        tenant = Tenant(name="Bombed", slug="bombed")
        s.add(tenant)
        s.flush()
        s.add(
            AdminUser(
                tenant_id=tenant.id,
                username="owner-bombed",
                password_hash=hash_password("pw-owner"),
                role=Role.owner,
            )
        )
        channel = Channel(tenant_id=tenant.id, name="Uno", epg_channel_id="b0.example")
        bouquet = Bouquet(tenant_id=tenant.id, name="All")
        line = Line(tenant_id=tenant.id, username="viewer-bombed", password="pw-viewer")
        s.add_all([channel, bouquet, line])
        s.flush()
        s.add(BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=channel.id))
        s.add(LineBouquet(line_id=line.id, bouquet_id=bouquet.id, position=0))
    return server.token("owner-bombed", "pw-owner")


def _served_titles(server: RunningServer) -> list[str]:
    with server.client() as c:
        r = c.get(
            "/xmltv.php",
            params={"username": "viewer-bombed", "password": "pw-viewer", "prev_days": 1},
        )
    assert r.status_code == 200, r.text
    doc = etree.fromstring(r.content)
    return [p.findtext("title") or "" for p in doc.findall("programme")]


def _upload_and_import(server: RunningServer, token: str, source_id: int, doc: bytes) -> dict:
    with server.client(token) as c:
        files = {"file": ("guide.xml.gz", doc, "application/gzip")}
        r = c.put(f"/api/v1/epg/sources/{source_id}/document", files=files)
        assert r.status_code == 200, r.text
        r = c.post(f"/api/v1/epg/sources/{source_id}/import", params={"wait": "true"})
        assert r.status_code == 200, r.text
        return r.json()


def test_xmltv_bomb_is_refused_in_bounded_memory_and_the_old_guide_stays(
    server: RunningServer,
) -> None:
    token = _seed(server)
    with server.client(token) as c:
        r = c.post("/api/v1/epg/sources", json={"name": "Provider"})
        assert r.status_code == 201, r.text
        source_id = r.json()["id"]
    good = GuideSpec(channels=1, days=2, start=int(time.time()) // 3600 * 3600 - 86400, prefix="b")
    run = _upload_and_import(server, token, source_id, gzip.compress(xmltv_bytes(good)))
    assert run["status"] == "succeeded", run
    served = _served_titles(server)
    assert len(served) > 10
    with server.ctx.db.session() as s:
        stored = s.scalar(select(func.count()).select_from(Programme))

    bomb = _gzip_bomb()
    assert len(bomb) < 2 * 1024 * 1024  # what travels is small; what it unpacks to is not
    size_before = _database_bytes(server)
    rss_before = _status_kib("VmRSS") * 1024
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS (VmHWM) := current RSS
    started = time.monotonic()
    run = _upload_and_import(server, token, source_id, bomb)
    elapsed = time.monotonic() - started
    peak = _status_kib("VmHWM") * 1024

    assert run["status"] == "failed", run
    assert "<desc>" in run["error"] and "refused" in run["error"], run["error"]
    assert run["programmes"] == 0
    assert peak - rss_before < MEMORY_MARGIN, (peak - rss_before) // 2**20
    assert elapsed < 60
    assert _served_titles(server) == served
    with server.ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Programme)) == stored
    assert _database_bytes(server) - size_before < 8 * 1024 * 1024
    with server.client(token) as c:
        source = c.get(f"/api/v1/epg/sources/{source_id}").json()
    assert source["active_run_id"] != run["id"]
