"""XMLTV imports into SQLite and PostgreSQL: stored field by field, failures that keep the
previous guide, re-imports that keep the past, retention, and fetches over real HTTP."""

from __future__ import annotations

import gzip
import lzma
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from palinsesto.epg.models import EpgImportRun, GuideChannel, ImportStatus, Programme
from palinsesto.epg.retention import prune
from support.epg_world import NOW, EpgWorld
from support.xmltv_docs import (
    BILLION_LAUGHS,
    GuideSpec,
    programme_count,
    programme_desc,
    programme_title,
    xmltv_bytes,
)

HOUR = 3600


def upload(world: EpgWorld, source_id: int, data: bytes) -> None:
    from palinsesto.epg.models import EpgSource

    path = world.service.data_dir / f"source-{source_id}.xmltv"
    path.write_bytes(data)
    with world.db.transaction() as session:
        session.get(EpgSource, source_id).upload_path = path.name  # type: ignore[union-attr]


def stored_count(world: EpgWorld) -> int:
    with world.db.session() as session:
        return session.scalar(select(func.count()).select_from(Programme)) or 0


def test_several_sources_are_stored_field_by_field(world: EpgWorld) -> None:
    a = GuideSpec(channels=12, days=3, start=NOW - 6 * HOUR, prefix="a", offset_minutes=60)
    b = GuideSpec(
        channels=8,
        days=2,
        start=NOW - 2 * HOUR,
        prefix="b",
        offset_minutes=-300,
        encoding="ISO-8859-1",
    )
    source_a = world.add_source("Provider A (gz)", priority=10)
    source_b = world.add_source("Provider B (xz)", priority=20, timezone="Europe/Rome")
    upload(world, source_a, gzip.compress(xmltv_bytes(a)))
    upload(world, source_b, lzma.compress(xmltv_bytes(b)))
    run_a = world.service.import_source(source_a)
    run_b = world.service.import_source(source_b)
    assert run_a.status is ImportStatus.succeeded, run_a.error
    assert run_b.status is ImportStatus.succeeded, run_b.error
    assert (run_a.channels, run_a.programmes, run_a.skipped) == (12, programme_count(a), 0)
    assert (run_b.channels, run_b.programmes) == (8, programme_count(b))
    assert stored_count(world) == programme_count(a) + programme_count(b) == 1296 + 576
    with world.db.session() as session:
        run = session.get(EpgImportRun, run_b.run_id)
        assert run is not None and run.status is ImportStatus.succeeded
        assert run.programmes == 576 and run.bytes_read > 0 and run.finished_at is not None
        row = session.scalars(
            select(Programme).where(Programme.xmltv_id == "b5.example").order_by(Programme.start)
        ).all()[7]
        assert row.tenant_id == world.tenant_id and row.source_id == source_b
        assert row.run_id == run_b.run_id
        assert (row.start, row.stop) == (NOW - 2 * HOUR + 7 * 2400, NOW - 2 * HOUR + 8 * 2400)
        assert row.title == programme_title(5, 7) == "Show 7 of Caffè & Tè <5>"
        assert row.description == programme_desc(5, 7) and row.lang == "it"
        names = session.scalars(
            select(GuideChannel.display_name).where(GuideChannel.xmltv_id == "a3.example")
        ).all()
        assert names == ["Canale A 3 HD"]
    rows = world.guide.programmes(world.tenant_id, "a3.example", NOW, NOW + 2 * HOUR)
    assert [r.start for r in rows] == [NOW, NOW + 2400, NOW + 4800]
    assert rows[0].stop == NOW + 2400 and rows[0].channel_id == "a3.example"
    assert rows[0].epg_source_id == source_a and rows[0].title == programme_title(3, 9)
    upcoming = world.guide.upcoming(world.tenant_id, "b0.example", NOW, 4)
    assert len(upcoming) == 4 and upcoming[0].start <= NOW < upcoming[0].stop


def _bad_dates() -> bytes:
    spec = GuideSpec(channels=2, days=1, start=NOW - 30 * 365 * 86400)  # 1996: nonsense
    return xmltv_bytes(spec)


def _stop_before_start() -> bytes:
    return (
        b"<tv>"
        + b"".join(
            f'<programme start="2026030{d}100000 +0000" stop="2026030{d}090000 +0000" '
            f'channel="c0.example"><title>t</title></programme>'.encode()
            for d in range(1, 8)
        )
        + b"</tv>"
    )


@pytest.mark.parametrize(
    ("name", "document", "error"),
    [
        ("malformed", lambda: b"<tv><programme start='x'></tv>", "not well-formed XML at line 1"),
        (
            "truncated gzip",
            lambda: gzip.compress(xmltv_bytes(GuideSpec(3, 1, NOW)))[:-100],
            "gzip stream is truncated",
        ),
        ("billion laughs", lambda: BILLION_LAUGHS, "entity declarations are refused"),
        (
            "dates out of range",
            _bad_dates,
            "no usable programme among 72 \\(date out of range: 72\\)",
        ),
        ("stop before start", _stop_before_start, "stop not after start: 7"),
        (
            "no programmes",
            lambda: b"<tv><channel id='x'><display-name>X</display-name></channel></tv>",
            "no <programme> element",
        ),
    ],
)
def test_a_failed_import_keeps_the_previous_guide(
    world: EpgWorld, name: str, document: object, error: str
) -> None:
    source = world.add_source("Provider")
    upload(world, source, xmltv_bytes(GuideSpec(channels=3, days=1, start=NOW - HOUR, prefix="c")))
    first = world.service.import_source(source)
    assert first.status is ImportStatus.succeeded
    before = world.guide.programmes(world.tenant_id, "c1.example", NOW - HOUR, NOW + 86400)
    assert len(before) == 36
    upload(world, source, document())  # type: ignore[operator]
    failed = world.service.import_source(source)
    assert failed.status is ImportStatus.failed
    assert __import__("re").search(error, failed.error), failed.error
    with world.db.session() as session:
        run = session.get(EpgImportRun, failed.run_id)
        assert run is not None and run.status is ImportStatus.failed and run.error == failed.error
    # Same guide served, and no staging rows left behind.
    assert world.guide.programmes(world.tenant_id, "c1.example", NOW - HOUR, NOW + 86400) == before
    assert stored_count(world) == 3 * 36


def test_reimport_replaces_the_future_and_keeps_the_past(world: EpgWorld) -> None:
    source = world.add_source("Provider")
    upload(world, source, xmltv_bytes(GuideSpec(channels=2, days=2, start=NOW - 86400, prefix="r")))
    assert world.service.import_source(source).status is ImportStatus.succeeded
    # A day later the provider's guide starts at the new "now", with new titles.
    world.clock[0] = NOW + 86400
    newer = xmltv_bytes(GuideSpec(channels=2, days=2, start=NOW + 86400, prefix="r")).replace(
        b"Show ", b"Nuovo "
    )
    upload(world, source, newer)
    second = world.service.import_source(source)
    assert second.status is ImportStatus.succeeded
    rows = world.guide.programmes(world.tenant_id, "r1.example", NOW - 86400, NOW + 3 * 86400)
    starts = [r.start for r in rows]
    assert starts == sorted(set(starts)), "no duplicates"
    past = [r for r in rows if r.stop <= NOW + 86400]
    future = [r for r in rows if r.start >= NOW + 86400]
    assert len(past) == 36 + 36 and all(r.title.startswith("Show ") for r in past)
    assert len(future) == 72 and all(r.title.startswith("Nuovo ") for r in future)
    assert stored_count(world) == 2 * (72 + 72)


def test_retention_keeps_the_longest_archive_window(world: EpgWorld) -> None:
    world.add_channel("Catch-up channel", "k0.example", archive_days=3)
    source = world.add_source("Provider")
    upload(
        world,
        source,
        xmltv_bytes(GuideSpec(channels=1, days=10, start=NOW - 7 * 86400, prefix="k")),
    )
    # The reader accepts the week-old part; retention decides what stays.
    assert world.service.import_source(source).status is ImportStatus.succeeded
    assert stored_count(world) == 360
    deleted = prune(world.db, NOW)
    assert deleted == 4 * 36 - 1  # ended more than 3 days ago (one straddles the horizon)
    assert prune(world.db, NOW) == 0  # idempotent
    rows = world.guide.programmes(world.tenant_id, "k0.example", 0, 2**31 - 1)
    assert rows[0].stop >= NOW - 3 * 86400 and rows[-1].start == NOW + 3 * 86400 - 2400


class _Provider(BaseHTTPRequestHandler):
    body = b""
    declared: int | None = None

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(self.declared or len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def provider(body: bytes, declared: int | None = None) -> Iterator[str]:
    handler = type("Handler", (_Provider,), {"body": body, "declared": declared})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/guide.xml.gz"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_by_url_and_refuse_a_declared_2gb_document(world: EpgWorld, tmp_path: Path) -> None:
    spec = GuideSpec(channels=4, days=1, start=NOW, prefix="u")
    with provider(gzip.compress(xmltv_bytes(spec))) as url:
        source = world.add_source("Remote", url=url)
        ok = world.service.import_source(source)
    assert ok.status is ImportStatus.succeeded and ok.programmes == 4 * 36
    two_gb = 2 * 1024**3 + 1
    with provider(b"<tv>", declared=two_gb) as url:
        from palinsesto.epg.models import EpgSource

        with world.db.transaction() as session:
            session.get(EpgSource, source).url = url  # type: ignore[union-attr]
        failed = world.service.import_source(source)
    assert failed.status is ImportStatus.failed
    assert failed.error == (
        "the provider declares 2,147,483,649 bytes, over the limit of 2,147,483,648 bytes"
    )
    assert len(world.guide.programmes(world.tenant_id, "u2.example", NOW, NOW + 86400)) == 36


def test_priority_between_sources_and_disabled_sources(world: EpgWorld) -> None:
    from palinsesto.epg.models import EpgSource

    first = world.add_source("Preferred", priority=1)
    second = world.add_source("Fallback", priority=50)
    spec = GuideSpec(channels=2, days=1, start=NOW, prefix="p")
    upload(world, first, xmltv_bytes(spec).replace(b"Show ", b"Preferred "))
    upload(world, second, xmltv_bytes(spec))
    assert world.service.import_source(second).status is ImportStatus.succeeded
    assert world.guide.upcoming(world.tenant_id, "p1.example", NOW, 1)[0].title.startswith("Show")
    assert world.service.import_source(first).status is ImportStatus.succeeded
    top = world.guide.upcoming(world.tenant_id, "p1.example", NOW, 1)[0]
    assert top.title.startswith("Preferred ") and top.epg_source_id == first
    with world.db.transaction() as session:
        session.get(EpgSource, first).enabled = False  # type: ignore[union-attr]
    world.service.changed(world.tenant_id)
    top = world.guide.upcoming(world.tenant_id, "p1.example", NOW, 1)[0]
    assert top.title.startswith("Show ") and top.epg_source_id == second
