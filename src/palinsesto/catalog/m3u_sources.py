"""M3U playlists brought in from the panel: preview what an import would do, import into a
chosen category and bouquet, and refresh a stored source on its schedule.

The matching and writing are :func:`palinsesto.catalog.m3u_import.import_entries` (the
CLI's importer): re-importing updates instead of duplicating. What this module adds is the
target (one category for every entry, or each group-title as a category; a bouquet the
channels join), the dry run a preview is (the import, rolled back), and for stored sources
the channels each one brought, so that a refresh disables those gone from the list and
enables again those it disabled once they come back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from palinsesto.catalog.m3u_fetch import PlaylistUnavailable, fetch_playlist
from palinsesto.catalog.m3u_import import ImportRefused, import_entries
from palinsesto.catalog.m3u_reader import M3UEntry, M3UError, M3UPlaylist, iter_playlist_lines
from palinsesto.catalog.m3u_reader import read_m3u as read_lines
from palinsesto.catalog.models import (
    Bouquet,
    BouquetItem,
    Category,
    CategoryKind,
    Channel,
    ItemType,
    M3USource,
    M3USourceChannel,
)
from palinsesto.db import Database
from palinsesto.errors import InvalidValue
from palinsesto.outbound import OutboundPolicy
from palinsesto.redaction import redact_url, redact_urls_in
from palinsesto.trust.audit import record

PREVIEW_ROWS = 500  # entries a preview lists; its counts cover the whole playlist
ERRORS_SHOWN = 200
SUCCEEDED, FAILED = "succeeded", "failed"


class PlaylistRefused(ValueError):
    """Nothing in the playlist can be imported; nothing was changed."""


@dataclass(frozen=True, slots=True)
class ImportTarget:
    """Where entries go: ``category_id`` for all of them (else their group-titles), and a
    bouquet they join (at its end, in playlist order)."""

    category_id: int | None = None
    bouquet_id: int | None = None


@dataclass
class PlaylistOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    categories_created: list[str] = field(default_factory=list)
    added_to_bouquet: int = 0
    disabled: int = 0  # channels of the source gone from the list
    enabled_again: int = 0  # channels the source had disabled, back in the list
    errors: list[M3UError] = field(default_factory=list)
    # Each importable entry and the channel it became, in playlist order.
    placed: list[tuple[M3UEntry, int]] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "disabled": self.disabled,
            "enabled_again": self.enabled_again,
            "skipped": len(self.errors),
            "added_to_bouquet": self.added_to_bouquet,
        }


def read_playlist(text: str) -> M3UPlaylist:
    return read_lines(iter_playlist_lines(text))


def url_host(url: str) -> str:
    """Where an entry's stream comes from, without the path and query that usually carry
    the provider account (``/live/user/password/1.ts``, ``?password=``)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}"


def check_target(session: Session, tenant_id: int, target: ImportTarget) -> str | None:
    """The target category's name (None: group-titles decide); 422 on a foreign id."""
    name = None
    if target.category_id is not None:
        name = session.scalar(
            select(Category.name).where(
                Category.id == target.category_id,
                Category.tenant_id == tenant_id,
                Category.kind == CategoryKind.live,
            )
        )
        if name is None:
            raise InvalidValue(
                f"No live category {target.category_id} in this tenant.", "category_id"
            )
    if target.bouquet_id is not None:
        found = session.scalar(
            select(Bouquet.id).where(
                Bouquet.id == target.bouquet_id, Bouquet.tenant_id == tenant_id
            )
        )
        if found is None:
            raise InvalidValue(f"No bouquet {target.bouquet_id} in this tenant.", "bouquet_id")
    return name


def _nothing_to_import(playlist: M3UPlaylist, errors: list[M3UError]) -> PlaylistRefused:
    why = "" if playlist.has_header else " (no #EXTM3U header: is it a playlist at all?)"
    first = "; ".join(str(e) for e in errors[:3])
    detail = f": {first}" if first else ""
    return PlaylistRefused(
        redact_urls_in(f"The playlist has no entry that can be imported{why}{detail}.")
    )


def import_playlist(
    session: Session,
    tenant_id: int,
    playlist: M3UPlaylist,
    target: ImportTarget,
    *,
    source_label: str,
    actor: str,
    actor_id: int | None,
    source_id: int | None = None,
) -> PlaylistOutcome:
    """Import ``playlist`` into the tenant's live channels, in the caller's transaction.

    Raises :class:`PlaylistRefused` when no entry can be imported, ImportRefused past the
    tenant's channel limit, InvalidValue for a target of another tenant: the caller's
    transaction then rolls back and nothing is kept. ORM objects the caller holds are
    detached (the importer empties the session between batches).
    """
    category_name = check_target(session, tenant_id, target)
    entries: list[M3UEntry] = playlist.entries
    if category_name is not None:
        entries = [dataclasses.replace(e, groups=(category_name,)) for e in entries]
    outcome = PlaylistOutcome(errors=list(playlist.errors))
    if not entries:
        raise _nothing_to_import(playlist, outcome.errors)
    rejected_lines: set[int] = set()

    def reject(error: M3UError) -> None:
        rejected_lines.add(error.line_number)
        outcome.errors.append(error)

    report = import_entries(
        session,
        tenant_id,
        entries,
        kind=CategoryKind.live,
        source=redact_url(source_label),
        actor=actor,
        actor_id=actor_id,
        on_reject=reject,
    )
    if report.imported == 0:
        raise _nothing_to_import(playlist, outcome.errors)
    outcome.errors.sort(key=lambda e: e.line_number)
    outcome.created, outcome.updated, outcome.unchanged = (
        report.created,
        report.updated,
        report.unchanged,
    )
    outcome.rejected = report.rejected
    outcome.categories_created = report.categories_created
    accepted = [e for e in entries if e.line_number not in rejected_lines]
    by_url = _channels_by_url(session, tenant_id, {e.url for e in accepted})
    outcome.placed = [(e, by_url[e.url]) for e in accepted if e.url in by_url]
    channel_ids = list(dict.fromkeys(channel_id for _, channel_id in outcome.placed))
    if target.bouquet_id is not None:
        outcome.added_to_bouquet = _append_to_bouquet(session, target.bouquet_id, channel_ids)
    if source_id is not None:
        outcome.disabled, outcome.enabled_again = _track(session, source_id, channel_ids)
    if outcome.disabled or outcome.enabled_again:
        record(
            session,
            actor_id=actor_id,
            actor=actor,
            tenant_id=tenant_id,
            action="m3u_refresh",
            entity="m3u_source",
            entity_id=source_id,
            after={"disabled": outcome.disabled, "enabled_again": outcome.enabled_again},
        )
    return outcome


def _channels_by_url(session: Session, tenant_id: int, urls: set[str]) -> dict[str, int]:
    """The channel now holding each URL as a source (the import put every entry's URL on
    the channel it matched or created)."""
    found: dict[str, int] = {}
    rows = session.execute(
        select(Channel.id, Channel.sources).where(Channel.tenant_id == tenant_id)
    )
    for channel_id, sources in rows:
        for item in sources or []:
            url = str(item.get("url", ""))
            if url in urls:
                found.setdefault(url, channel_id)
    return found


def _append_to_bouquet(session: Session, bouquet_id: int, channel_ids: Iterable[int]) -> int:
    """Add the channels the bouquet lacks at its end; how many were added."""
    return append_items(session, bouquet_id, ItemType.channel, channel_ids)


def append_items(
    session: Session, bouquet_id: int, item_type: ItemType, item_ids: Iterable[int]
) -> int:
    """Add ``item_ids`` (already checked to be the bouquet's tenant's) the bouquet does not
    hold yet at its end, in the order given; how many were added."""
    held = set(
        session.scalars(
            select(BouquetItem.item_id).where(
                BouquetItem.bouquet_id == bouquet_id, BouquetItem.item_type == item_type
            )
        )
    )
    new = [i for i in dict.fromkeys(item_ids) if i not in held]
    if not new:
        return 0
    last = session.scalar(
        select(func.max(BouquetItem.position)).where(BouquetItem.bouquet_id == bouquet_id)
    )
    start = (last if last is not None else -1) + 1
    session.execute(
        insert(BouquetItem),
        [
            {"bouquet_id": bouquet_id, "item_type": item_type, "item_id": i, "position": start + n}
            for n, i in enumerate(new)
        ],
    )
    return len(new)


def _track(session: Session, source_id: int, channel_ids: list[int]) -> tuple[int, int]:
    """Remember the source's channels; disable those gone from the list, enable again those
    it had disabled. Returns (disabled, enabled again)."""
    links = dict(
        session.execute(
            select(M3USourceChannel.channel_id, M3USourceChannel.disabled_by_source).where(
                M3USourceChannel.source_id == source_id
            )
        ).all()
    )
    current = set(channel_ids)
    fresh = [
        {"source_id": source_id, "channel_id": i, "disabled_by_source": False}
        for i in channel_ids
        if i not in links
    ]
    if fresh:
        session.execute(insert(M3USourceChannel), fresh)
    gone = [i for i in links if i not in current]
    # A channel the operator disabled stays theirs: only enabled ones are marked.
    to_disable = (
        list(
            session.scalars(
                select(Channel.id).where(Channel.id.in_(gone), Channel.enabled.is_(True))
            )
        )
        if gone
        else []
    )
    back = [i for i, disabled in links.items() if disabled and i in current]
    for ids, enabled in ((to_disable, False), (back, True)):
        if ids:
            session.execute(update(Channel).where(Channel.id.in_(ids)).values(enabled=enabled))
            session.execute(
                update(M3USourceChannel)
                .where(
                    M3USourceChannel.source_id == source_id, M3USourceChannel.channel_id.in_(ids)
                )
                .values(disabled_by_source=not enabled)
            )
    return len(to_disable), len(back)


@dataclass
class Preview:
    outcome: PlaylistOutcome
    total_entries: int
    rows: list[tuple[M3UEntry, str]]  # (entry, "new" | "existing"), the first PREVIEW_ROWS


def preview_playlist(
    db: Database, tenant_id: int, playlist: M3UPlaylist, target: ImportTarget
) -> Preview:
    """What importing ``playlist`` would do: the import itself, rolled back."""
    with db.session() as session:
        try:
            floor = session.scalar(select(func.max(Channel.id))) or 0
            outcome = import_playlist(
                session,
                tenant_id,
                playlist,
                target,
                source_label="preview",
                actor="preview",
                actor_id=None,
            )
        finally:
            session.rollback()
    rows = [(e, "new" if i > floor else "existing") for e, i in outcome.placed[:PREVIEW_ROWS]]
    return Preview(outcome, len(playlist.entries), rows)


# -- stored sources --------------------------------------------------------------------


def retry_delay(failures: int, base_seconds: int, cap_seconds: int) -> int:
    """Seconds before the next try after ``failures`` failures in a row: base, 2 × base,
    4 × base… never more than the source's own refresh interval."""
    return min(cap_seconds, base_seconds * 2 ** min(max(failures, 1) - 1, 40))


@dataclass(frozen=True, slots=True)
class RefreshResult:
    tenant_id: int
    status: str
    error: str = ""
    summary: dict[str, int] = field(default_factory=dict)


def refresh_source(
    db: Database,
    source_id: int,
    policy: OutboundPolicy,
    *,
    now: datetime,
    retry_base_seconds: int,
    max_bytes: int,
    timeout: float,
    actor: str = "m3u-refresh",
    actor_id: int | None = None,
    fetch: Callable[..., str] = fetch_playlist,
) -> RefreshResult:
    """Fetch the source's playlist and import it; the outcome (or the error, redacted)
    goes on the source, with its next run: the refresh interval after a success, an
    exponential back-off after failures."""
    with db.session() as session:
        source = session.get(M3USource, source_id)
        if source is None:
            raise LookupError(f"M3U source {source_id} does not exist")
        tenant_id, url = source.tenant_id, source.url
        target = ImportTarget(source.category_id, source.bouquet_id)
    try:
        text = fetch(url, policy, timeout=timeout, max_bytes=max_bytes)
        playlist = read_playlist(text)
        with db.transaction() as session:
            outcome = import_playlist(
                session,
                tenant_id,
                playlist,
                target,
                source_label=url,
                actor=actor,
                actor_id=actor_id,
                source_id=source_id,
            )
            stored = session.get(M3USource, source_id)
            if stored is None:  # deleted while it ran: the import stands, nothing to note
                return RefreshResult(tenant_id, SUCCEEDED, summary=outcome.summary())
            stored.last_run_at = now
            stored.last_status = SUCCEEDED
            stored.last_error = "; ".join(redact_urls_in(str(e)) for e in outcome.errors[:20])
            stored.last_summary = outcome.summary()
            stored.consecutive_failures = 0
            stored.next_run_at = now + timedelta(hours=max(1, stored.refresh_hours))
        return RefreshResult(tenant_id, SUCCEEDED, summary=outcome.summary())
    except (PlaylistUnavailable, PlaylistRefused, ImportRefused, InvalidValue) as exc:
        error = redact_urls_in(str(exc))
    with db.transaction() as session:
        stored = session.get(M3USource, source_id)
        if stored is not None:
            stored.last_run_at = now
            stored.last_status = FAILED
            stored.last_error = error
            stored.consecutive_failures += 1
            cap = max(1, stored.refresh_hours) * 3600
            delay = retry_delay(stored.consecutive_failures, retry_base_seconds, cap)
            stored.next_run_at = now + timedelta(seconds=delay)
    return RefreshResult(tenant_id, FAILED, error=error)


def due_sources(session: Session, now: datetime) -> list[int]:
    """Enabled sources whose next run has come (a new source runs at once)."""
    return list(
        session.scalars(
            select(M3USource.id)
            .where(
                M3USource.enabled.is_(True),
                (M3USource.next_run_at.is_(None)) | (M3USource.next_run_at <= now),
            )
            .order_by(M3USource.id)
        )
    )
