"""Import an XMLTV source into the stored guide, never leaving a broken guide behind.

The document streams from the provider (or the uploaded file) through the reader into the
database in chunks, under a new ``run_id`` that nothing serves yet. Only when the whole
document was read and makes sense does one transaction make the run the source's active
one; the programmes of the previous run that already ended before the new guide starts are
carried over (catch-up needs the past guide), the rest is deleted. An import that fails for
any reason deletes its own rows and records the error on its run: the previous guide is
still the one served.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.engine import Connection

from palinsesto.db import Database
from palinsesto.epg.models import (
    EpgImportRun,
    EpgSource,
    GuideChannel,
    ImportStatus,
    Programme,
)
from palinsesto.epg.xmltv_reader import (
    DEFAULT_MAX_BYTES,
    ChannelEntry,
    ProgrammeEntry,
    ReaderLimits,
    Skipped,
    XmltvError,
    XmltvReader,
    XmltvTooLarge,
)
from palinsesto.outbound import FetchFailed, OutboundPolicy, open_url
from palinsesto.redaction import redact_urls_in

READ_SIZE = 1 << 20
MAX_SAMPLES = 20
PROGRAMME_COLUMNS = (
    "tenant_id",
    "source_id",
    "run_id",
    "xmltv_id",
    "start",
    "stop",
    "title",
    "description",
    "lang",
    "details",
)


class ImportFailed(Exception):
    """The source could not be read or its content makes no sense; the message says why."""


@dataclass(frozen=True, slots=True)
class ImportLimits:
    max_bytes: int = DEFAULT_MAX_BYTES
    # More skipped programmes than this share means the dates (or the feed) are wrong.
    max_skipped_ratio: float = 0.5
    chunk_rows: int = 5_000
    # Rows are also written once their text passes this many characters, so a chunk of long
    # descriptions never piles up in memory.
    chunk_chars: int = 4 << 20
    fetch_timeout: float = 60.0
    # Who the document may be fetched from: public addresses only unless the platform
    # admin allowed a range (outbound/policy.py).
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)
    reader: ReaderLimits = field(default_factory=ReaderLimits)


@dataclass
class ImportResult:
    run_id: int
    source_id: int
    tenant_id: int
    status: ImportStatus
    channels: int = 0
    programmes: int = 0
    skipped: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    error: str = ""
    duration_ms: int = 0


def upload_path(data_dir: Path, tenant_id: int, source_id: int) -> Path:
    """Where an uploaded document of a source is kept."""
    return data_dir / "epg" / f"tenant-{tenant_id}" / f"source-{source_id}.xmltv"


def fetch_url(url: str, max_bytes: int, timeout: float, policy: OutboundPolicy) -> Iterator[bytes]:
    """The bytes of ``url``, refused up front when the provider declares too many.

    Fetched under the outbound policy: the URL and every redirect hop must be public
    addresses (or ranges the platform admin allowed).
    """
    try:
        with open_url(url, policy, timeout=timeout, max_bytes=max_bytes) as response:
            if response.status != 200:
                raise ImportFailed(f"the provider answered HTTP {response.status} for {url}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise XmltvTooLarge(
                    f"the provider declares {int(declared):,} bytes, over the limit of "
                    f"{max_bytes:,} bytes"
                )
            yield from response.iter_bytes()
    except FetchFailed as exc:
        raise ImportFailed(f"cannot download {url}: {exc}") from None


def read_file(path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(READ_SIZE):
                yield chunk
    except OSError as exc:
        raise ImportFailed(f"cannot read the uploaded document: {exc.strerror}") from exc


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ImportFailed(f"unknown time zone {name!r} on the source") from exc


class _ProgrammeWriter:
    """Bulk inserts in chunks, each in its own short transaction (rows are not served yet,
    and short transactions keep SQLite's write lock free for the rest of the panel)."""

    def __init__(self, db: Database, chunk_rows: int, chunk_chars: int) -> None:
        self.db = db
        self.chunk_rows = chunk_rows
        self.chunk_chars = chunk_chars
        self.rows: list[tuple[Any, ...]] = []
        self.chars = 0
        self.written = 0

    def add(self, row: tuple[Any, ...], chars: int) -> None:
        self.rows.append(row)
        self.chars += chars
        if len(self.rows) >= self.chunk_rows or self.chars >= self.chunk_chars:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        rows, self.rows, self.chars = self.rows, [], 0
        with self.db.engine.begin() as conn:
            write_programmes(conn, rows)
        self.written += len(rows)


def write_programmes(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Insert programme tuples (in :data:`PROGRAMME_COLUMNS` order) as fast as the backend
    allows: COPY on PostgreSQL, one executemany on SQLite."""
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        columns = ", ".join(PROGRAMME_COLUMNS)
        with raw.cursor() as cur, cur.copy(f"COPY epg_programmes ({columns}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in PROGRAMME_COLUMNS)
    conn.exec_driver_sql(
        f"INSERT INTO epg_programmes ({', '.join(PROGRAMME_COLUMNS)}) VALUES ({marks})", rows
    )


def run_import(
    db: Database,
    source_id: int,
    *,
    chunks: Iterable[bytes] | None = None,
    data_dir: Path = Path("."),
    limits: ImportLimits | None = None,
    now: int | None = None,
    run_id: int | None = None,
    on_change: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import the source's document (``chunks`` if given, else its URL or uploaded file).

    Never raises for a bad document: the error is recorded on the run and returned.
    ``run_id`` continues a run created earlier (by the API, to answer at once).
    ``on_change(tenant_id)`` is called after a successful swap.
    """
    limits = limits or ImportLimits()
    now = int(time.time()) if now is None else now
    started = time.monotonic()
    with db.transaction() as session:
        source = session.get(EpgSource, source_id)
        if source is None:
            raise ImportFailed(f"EPG source {source_id} does not exist")
        tenant_id, previous_run = source.tenant_id, source.active_run_id
        url, stored, zone_name = source.url, source.upload_path, source.timezone
        if run_id is None:
            run = EpgImportRun(tenant_id=tenant_id, source_id=source_id)
            session.add(run)
            session.flush()
            run_id = run.id
    result = ImportResult(run_id, source_id, tenant_id, ImportStatus.running)
    writer = _ProgrammeWriter(db, limits.chunk_rows, limits.chunk_chars)
    reasons: Counter[str] = Counter()
    samples: list[dict[str, Any]] = []
    bytes_read = 0
    try:
        if chunks is None:
            if stored:
                chunks = read_file(data_dir / stored)
            elif url:
                chunks = fetch_url(url, limits.max_bytes, limits.fetch_timeout, limits.outbound)
            else:
                raise ImportFailed("the source has neither a URL nor an uploaded document")
        reader = XmltvReader(
            now=now,
            default_zone=_zone(zone_name),
            limits=replace(limits.reader, max_bytes=limits.max_bytes),
        )
        channels: dict[str, ChannelEntry] = {}
        first_start: dict[str, int] = {}

        def consume(entries: Iterable[Any]) -> None:
            for entry in entries:
                if type(entry) is ProgrammeEntry:
                    writer.add(
                        (
                            tenant_id,
                            source_id,
                            run_id,
                            entry.channel,
                            entry.start,
                            entry.stop,
                            entry.title,
                            entry.description,
                            entry.lang,
                            entry.details.to_json() if entry.details else None,
                        ),
                        len(entry.title) + len(entry.description),
                    )
                    known = first_start.get(entry.channel)
                    if known is None or entry.start < known:
                        first_start[entry.channel] = entry.start
                elif type(entry) is ChannelEntry:
                    channels.setdefault(entry.xmltv_id, entry)
                elif type(entry) is Skipped:
                    reasons[entry.reason] += 1
                    if len(samples) < MAX_SAMPLES:
                        samples.append(
                            {
                                "reason": entry.reason,
                                "channel": entry.channel,
                                "detail": entry.detail[:200],
                                "line": entry.line,
                            }
                        )

        for chunk in chunks:
            bytes_read += len(chunk)
            consume(reader.feed(chunk))
        consume(reader.close())
        writer.flush()
        _check_sense(reader.programme_elements, writer.written, reasons, limits)
        result.channels = len(channels.keys() | first_start.keys())
        result.programmes = writer.written
        result.skipped = sum(reasons.values())
        result.skipped_reasons = dict(reasons)
        _swap(db, result, previous_run, channels, first_start, now, bytes_read, samples)
    except (XmltvError, ImportFailed) as exc:
        _fail(db, result, str(exc), reasons, samples, bytes_read)
    except Exception as exc:  # a database error: still never leave the guide half-replaced
        _fail(db, result, f"internal error: {type(exc).__name__}: {exc}", reasons, samples, 0)
        raise
    finally:
        result.duration_ms = int((time.monotonic() - started) * 1000)
        with db.transaction() as session:
            session.execute(
                update(EpgImportRun)
                .where(EpgImportRun.id == run_id)
                .values(duration_ms=result.duration_ms)
            )
    if result.status is ImportStatus.succeeded:
        if previous_run is not None:
            with db.engine.begin() as conn:
                conn.execute(delete(Programme).where(Programme.run_id == previous_run))
        if on_change is not None:
            on_change(tenant_id)
    return result


def _check_sense(elements: int, accepted: int, reasons: Counter[str], limits: ImportLimits) -> None:
    if elements == 0:
        raise ImportFailed("the document has no <programme> element")
    summary = ", ".join(f"{reason}: {count}" for reason, count in reasons.most_common())
    if accepted == 0:
        raise ImportFailed(f"no usable programme among {elements} ({summary})")
    skipped = elements - accepted
    if skipped / elements > limits.max_skipped_ratio:
        raise ImportFailed(
            f"{skipped} of {elements} programmes are unusable ({summary}); the feed's dates "
            "make no sense, so the previous guide is kept"
        )


def _swap(
    db: Database,
    result: ImportResult,
    previous_run: int | None,
    channels: dict[str, ChannelEntry],
    first_start: dict[str, int],
    now: int,
    bytes_read: int,
    samples: list[dict[str, Any]],
) -> None:
    run_id, tenant_id, source_id = result.run_id, result.tenant_id, result.source_id
    with db.transaction() as session:
        source = session.get(EpgSource, source_id, with_for_update=True)
        if source is None:
            raise ImportFailed("the source was deleted during the import")
        known = {
            g.xmltv_id: g
            for g in session.scalars(
                select(GuideChannel).where(GuideChannel.source_id == source_id)
            )
        }
        for xmltv_id in channels.keys() | first_start.keys():
            entry = channels.get(xmltv_id)
            guide_channel = known.get(xmltv_id)
            if guide_channel is None:
                guide_channel = GuideChannel(
                    tenant_id=tenant_id, source_id=source_id, xmltv_id=xmltv_id[:200]
                )
                session.add(guide_channel)
            if entry is not None:
                guide_channel.display_name = entry.display_name[:300]
                guide_channel.icon = entry.icon[:1000]
            guide_channel.last_run_id = run_id
        if previous_run is not None and previous_run != source.active_run_id:
            raise ImportFailed("another import of this source finished first; run it again")
        if previous_run is not None:
            # Carry the past over: what the previous guide had before the new one begins
            # (or, for a channel the new guide lacks, what already ended).
            old_channels = session.scalars(
                select(Programme.xmltv_id).where(Programme.run_id == previous_run).distinct()
            ).all()
            table = cast(Table, Programme.__table__)
            if old_channels:
                session.connection().execute(
                    update(table)
                    .where(
                        table.c.tenant_id == tenant_id,
                        table.c.run_id == previous_run,
                        table.c.xmltv_id == bindparam("channel"),
                        table.c.start < bindparam("until"),
                        table.c.stop <= bindparam("until"),
                    )
                    .values(run_id=run_id),
                    [
                        {"channel": ch, "until": min(first_start.get(ch, now), now)}
                        for ch in old_channels
                    ],
                )
        source.active_run_id = run_id
        source.last_import_at = datetime.fromtimestamp(now, UTC)
        session.execute(
            update(EpgImportRun)
            .where(EpgImportRun.id == run_id)
            .values(
                status=ImportStatus.succeeded,
                finished_at=datetime.now(UTC),
                bytes_read=bytes_read,
                channels=result.channels,
                programmes=result.programmes,
                skipped=result.skipped,
                skipped_reasons=result.skipped_reasons,
                skipped_samples=samples,
            )
        )
    result.status = ImportStatus.succeeded


def _fail(
    db: Database,
    result: ImportResult,
    error: str,
    reasons: Counter[str],
    samples: list[dict[str, Any]],
    bytes_read: int,
) -> None:
    result.status = ImportStatus.failed
    # Stored, shown in the panel and logged: a source URL's credentials stay out of it.
    error = redact_urls_in(error)
    result.error = error
    with db.engine.begin() as conn:
        conn.execute(delete(Programme).where(Programme.run_id == result.run_id))
    with db.transaction() as session:
        session.execute(
            update(EpgImportRun)
            .where(EpgImportRun.id == result.run_id)
            .values(
                status=ImportStatus.failed,
                finished_at=datetime.now(UTC),
                bytes_read=bytes_read,
                skipped=sum(reasons.values()),
                skipped_reasons=dict(reasons),
                skipped_samples=samples,
                error=error[:2000],
            )
        )
