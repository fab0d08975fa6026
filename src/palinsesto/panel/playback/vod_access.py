"""May this line play this movie or episode now? (reference §8.1 validation order)

The VOD counterpart of :meth:`PlaybackAccess.authorize`: the same line authentication
(credentials, status, allowed IPs and user agents) through the live surface's
:class:`~palinsesto.panel.playback.lines.LineDirectory`, the same tenant connection policy, then
"is it in the line's bouquets": a movie directly, an episode through its series.
Items and bouquet contents are cached per tenant, keyed by the tenant's ``catalog``
change version, exactly as channels are; with ``cached_only`` a miss raises
:class:`NotCached` so the event loop moves it to a worker thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import select

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.catalog.models import Episode, ItemType, Movie, RemoteDelivery, Series
from palinsesto.cluster.events import ChangeEvents
from palinsesto.db import Database
from palinsesto.panel.playback.access import NotCached, NotInBouquet, PlaybackAccess, UnknownChannel
from palinsesto.panel.playback.lines import BadCredentials, LineView
from palinsesto.panel.playback.stream_paths import VodKind
from palinsesto.panel.playback.watch_tokens import SIGNED_USER, WatchKind, WatchTokenRefused
from palinsesto.trust.rights import RightsItem


@dataclass(frozen=True, slots=True)
class VodRequest:
    username: str
    password: str
    kind: VodKind
    item_id: int
    ip: str
    user_agent: str
    now: float
    host: str = ""  # the Host header: a tenant's own domain plays only its lines


@dataclass(frozen=True, slots=True)
class VodItem:
    kind: VodKind
    id: int
    tenant_id: int
    bouquet_item: int  # the id bouquets hold: the movie, or the episode's series
    source_url: str
    enabled: bool
    delivery: RemoteDelivery = RemoteDelivery.redirect  # for an http(s) source


@dataclass(frozen=True, slots=True)
class VodGrant:
    line: LineView
    item: VodItem
    policy: ConnectionPolicy
    max_viewers: int | None = None  # the plan's concurrent viewers, live and VOD together


class UnknownVod(UnknownChannel):
    """No such (enabled) movie or episode in the line's tenant (404)."""

    code = "STREAM_NOT_FOUND"


_BOUQUET_TYPE = {VodKind.movie: ItemType.movie, VodKind.series: ItemType.series}


class VodAccess:
    """Authorization for VOD plays, with its catalog lookups cached in memory."""

    def __init__(self, db: Database, events: ChangeEvents, access: PlaybackAccess) -> None:
        self._db, self._events, self._access = db, events, access
        self._items: dict[tuple[int, VodKind, int], tuple[int, VodItem | None]] = {}
        self._lock = threading.Lock()

    def authorize(self, req: VodRequest, *, cached_only: bool = False) -> VodGrant:
        """The grant to play, or a LineRefused / UnknownVod / NotInBouquet error."""
        if req.username == SIGNED_USER:
            if cached_only:
                raise NotCached("signed play")
            return self._authorize_preview(req)
        lines = self._access.lines
        if cached_only and not lines.is_cached(req.username):
            raise NotCached(req.username)
        line = lines.authenticate(
            req.username,
            req.password,
            ip=req.ip,
            user_agent=req.user_agent,
            now=req.now,
            tenant_id=self._access.host_tenant(req.host, cached_only=cached_only),
        )
        item = self.item(line.tenant_id, req.kind, req.item_id, cached_only=cached_only)
        if item is None or not item.enabled:
            raise UnknownVod(f"no {req.kind.value} item {req.item_id}")
        members = self._access.bouquet_items(
            line.tenant_id, _BOUQUET_TYPE[req.kind], line.bouquet_ids, cached_only=cached_only
        )
        if item.bouquet_item not in members:
            raise NotInBouquet(f"{req.kind.value} {req.item_id} is not in the line's bouquets")
        line.check_not_blocked(_BOUQUET_TYPE[req.kind].value, item.bouquet_item)
        # The same rights, territory and blackout gate as live: a movie, or an episode's series.
        rights_item = RightsItem.movie if req.kind is VodKind.movie else RightsItem.series
        self._access.check_item_rights(
            line.tenant_id, rights_item, item.bouquet_item, req.ip, req.now, cached_only=cached_only
        )
        tenant = self._access.tenant(line.tenant_id, cached_only=cached_only)
        return VodGrant(line, item, tenant.policy, tenant.max_viewers)

    def _authorize_preview(self, req: VodRequest) -> VodGrant:
        """An admin's movie preview in the panel: a watch token of kind movie_preview for
        this movie (playback/watch_tokens.py) instead of a line; no bouquet, no rights gate
        (the admin manages the title), the tenant must still be active."""
        tokens = self._access.watch_tokens
        if tokens is None or req.kind is not VodKind.movie:
            raise BadCredentials("signed playback is for movies only")
        try:
            grant = tokens.verify(req.password, req.item_id, req.now)
        except WatchTokenRefused as exc:
            raise BadCredentials(f"watch token refused: {exc}") from None
        if grant.kind is not WatchKind.movie_preview:
            raise BadCredentials("watch token refused: it is for a live channel")
        item = self.item(grant.tenant_id, req.kind, req.item_id)
        if item is None:
            raise UnknownVod(f"no movie {req.item_id}")
        tenant = self._access.tenant(grant.tenant_id)
        if not tenant.active:
            raise BadCredentials("this service is suspended")
        return VodGrant(grant.as_line(), item, tenant.policy, None)

    def item(
        self, tenant_id: int, kind: VodKind, item_id: int, *, cached_only: bool = False
    ) -> VodItem | None:
        version = self._events.version(tenant_id, "catalog")
        key = (tenant_id, kind, item_id)
        hit = self._items.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        if cached_only:
            raise NotCached(f"{kind.value} {item_id}")
        with self._db.session() as session:
            if kind is VodKind.movie:
                row = session.execute(
                    select(
                        Movie.id, Movie.id, Movie.source_url, Movie.enabled, Movie.delivery
                    ).where(Movie.id == item_id, Movie.tenant_id == tenant_id)
                ).first()
            else:
                row = session.execute(
                    select(
                        Episode.id,
                        Episode.series_id,
                        Episode.source_url,
                        Series.enabled,
                        Episode.delivery,
                    )
                    .join(Series, Series.id == Episode.series_id)
                    .where(Episode.id == item_id, Episode.tenant_id == tenant_id)
                ).first()
        found = None
        if row is not None:
            found = VodItem(
                kind, row[0], tenant_id, row[1], row[2] or "", bool(row[3]), RemoteDelivery(row[4])
            )
        with self._lock:
            if len(self._items) > 200_000:
                self._items.clear()
            self._items[key] = (version, found)
        return found
