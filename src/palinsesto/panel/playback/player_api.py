"""``player_api.php`` and ``/player_api/U/P[/ACTION]`` (reference §2–5, §13, §14).

GET and POST alike. The account call answers any request without a known action
(§3.1, §13.13); catalogue actions answer from bytes cached per bouquet set.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from palinsesto.catalog.models import Episode, Movie
from palinsesto.panel.playback import xtream
from palinsesto.panel.playback.account_call import AccountBodies
from palinsesto.panel.playback.bodies import EMPTY_ARRAY, Body, JsonArray, respond, send
from palinsesto.panel.playback.catalog_cache import Sections
from palinsesto.panel.playback.catalog_view import (
    LiveSection,
    load_episodes,
    load_media_info,
    load_seasons,
)
from palinsesto.panel.playback.lines import BadCredentials, LineRefused, LineView
from palinsesto.panel.playback.raw_http import parse_query, scope_headers
from palinsesto.panel.playback.viewer import (
    LoginThrottled,
    ViewerRequest,
    ViewerSurfaces,
    plain_headers,
    viewer_request,
    viewer_values,
)
from palinsesto.panel.playback.xtream import ServerIdentity

JSON = "application/json"

# §4.1: XC's numeric aliases.
NUMERIC_ACTIONS = {
    "200": "get_vod_categories",
    "201": "get_live_categories",
    "202": "get_live_streams",
    "203": "get_vod_streams",
    "204": "get_series_info",
    "205": "get_short_epg",
    "206": "get_series_categories",
    "207": "get_simple_data_table",
    "208": "get_series",
    "209": "get_vod_info",
}

# Each list action reads one kind of the bouquet set (so it is rebuilt only when that
# kind changes) and serialises it with one builder.
LIST_KINDS: dict[str, str] = {
    "get_live_categories": "live",
    "get_vod_categories": "vod",
    "get_series_categories": "series",
    "get_live_streams": "live",
    "get_vod_streams": "vod",
    "get_series": "series",
}

# §14: what an inactive line gets for a catalogue action — an empty result of the
# action's own shape, not the account object.
EMPTY_RESULTS: dict[str, Any] = {
    **{a: [] for a in LIST_KINDS},
    "get_vod_info": {"info": []},
    "get_series_info": {"seasons": [], "info": {"name": None}, "episodes": {}},
    "get_short_epg": {"epg_listings": []},
    "get_simple_data_table": {"epg_listings": []},
    "get_epg": [],
}


INT4_MAX = 2_147_483_647
_INTEGER = re.compile(r"-?[0-9]{1,20}")


class BadParameter(ValueError):
    """A parameter the action needs is malformed; the message names it."""


def _json(obj: Any) -> Body:
    return Body(orjson.dumps(obj))


def json_response(
    request_headers: Mapping[str, str], obj: Any, status_code: int = 200, **headers: str
) -> Response:
    return send(request_headers, _json(obj), JSON, status_code=status_code, extra_headers=headers)


def _int_param(params: dict[str, str], name: str, *, zero_is_none: bool = False) -> int | None:
    raw = params.get(name, "").strip()
    if raw == "":
        return None
    # ASCII digits only (int() also reads "١٢" and "1_0"), and no more than an int4 column
    # holds: every id and limit here ends up compared with one, and PostgreSQL refuses more.
    if not _INTEGER.fullmatch(raw):
        raise BadParameter(f"{name} must be an integer, got {raw!r}")
    value = int(raw)
    if not -INT4_MAX <= value <= INT4_MAX:
        raise BadParameter(f"{name} must be between {-INT4_MAX} and {INT4_MAX}")
    return None if zero_is_none and value == 0 else value


def normalise_action(raw: str) -> str:
    return NUMERIC_ACTIONS.get(raw, raw).strip().lower()


def refusal(request_headers: Mapping[str, str], exc: Exception) -> Response:
    """§3.3/§14: bad credentials are a 200 ``{"user_info":{"auth":0}}``; a throttled
    address gets 429 + Retry-After; IP/UA locks are refusals (403) with the reason."""
    if isinstance(exc, LoginThrottled):
        return json_response(
            request_headers,
            xtream.AUTH_FAILED,
            status_code=429,
            **{"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, BadCredentials):
        return json_response(request_headers, xtream.AUTH_FAILED)
    code = exc.code if isinstance(exc, LineRefused) else "AUTH_FAILED"
    return json_response(
        request_headers, {"user_info": {"auth": 0}, "error": code}, status_code=403
    )


CATEGORY_ACTIONS = frozenset({"get_live_categories", "get_vod_categories", "get_series_categories"})


def _list_builder(action: str, category_id: int | None) -> Callable[[Sections], JsonArray]:
    """The whole list an action answers (optionally under one category), serialised once
    element by element: every page of it is cut from these bytes (§4.1's ``num`` counts
    over the whole list, so an element's bytes do not depend on the page)."""

    def build(sections: Sections) -> JsonArray:
        dumps = orjson.dumps
        if action == "get_live_categories":
            items = xtream.categories(sections.live.used_categories())
        elif action == "get_vod_categories":
            items = xtream.categories(sections.vod.used_categories())
        elif action == "get_series_categories":
            items = xtream.categories(sections.series.used_categories())
        elif action == "get_live_streams":
            items = xtream.live_items(sections.live, category_id)
        elif action == "get_vod_streams":
            items = xtream.vod_items(sections.vod, category_id)
        else:
            items = xtream.series_items(sections.series, category_id)
        return JsonArray(dumps(item) for item in items)

    return build


class PlayerApi:
    """The ``player_api.php`` endpoint (one instance per application), an ASGI app."""

    def __init__(self, surfaces: ViewerSurfaces) -> None:
        self.surfaces = surfaces
        self.accounts = AccountBodies(surfaces.active_cons)

    async def __call__(self, scope: Scope, receive: Receive, send_fn: Send) -> None:
        """The account call over GET is answered here from per-line prebuilt bytes, with
        no Starlette ``Request``/``Response``: apps send it constantly (§3.1). Everything
        else (catalogue actions, POST forms) goes through :meth:`handle`."""
        if scope["method"] == "GET":
            params = parse_query(scope["query_string"])
            path = scope.get("path_params") or {}
            if normalise_action(path.get("action") or params.get("action", "")) not in (
                EMPTY_RESULTS
            ):
                await self.account_call(scope, receive, send_fn, params)
                return
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send_fn)

    async def account_call(
        self, scope: Scope, receive: Receive, send_fn: Send, params: dict[str, str]
    ) -> None:
        headers = scope_headers(scope)
        viewer = viewer_values(scope, params)
        try:
            line = await self.surfaces.authenticate(viewer, require_active=False)
        except (LoginThrottled, LineRefused) as exc:
            await refusal(headers, exc)(scope, receive, send_fn)
            return
        server = self.surfaces.server_for(viewer, scope.get("scheme", "http"))
        await respond(send_fn, headers, await self.account_body(line, time.time(), server), JSON)

    async def account_body(self, line: LineView, now: float, server: ServerIdentity) -> Body:
        surfaces = self.surfaces
        tenant = surfaces.catalogs.peek_tenant(line.tenant_id)
        if tenant is None:
            tenant = await run_in_threadpool(surfaces.catalogs.tenant, line.tenant_id)
        return self.accounts.body(surfaces.settings, server, line, tenant[1], now)

    async def handle(self, request: Request) -> Response:
        viewer = await viewer_request(request)
        action = normalise_action(
            request.path_params.get("action") or viewer.params.get("action", "")
        )
        headers = plain_headers(request)
        try:
            line = await self.surfaces.authenticate(viewer, require_active=False)
        except (LoginThrottled, LineRefused) as exc:
            return refusal(headers, exc)
        now = time.time()
        try:
            if action in EMPTY_RESULTS:
                if line.status(now) != "Active":
                    return json_response(headers, EMPTY_RESULTS[action])
                return await self.catalogue(request, viewer, line, action, now)
        except BadParameter as exc:
            return json_response(headers, {"error": str(exc)}, status_code=400)
        # §3.1/§13.13: no action, or one we do not know (get_profile, get_server_info,
        # get_account_info, ...), answers with the account object.
        server = self.surfaces.server_for(viewer, request.url.scheme)
        return send(headers, await self.account_body(line, now, server), JSON)

    async def catalogue(
        self, request: Request, viewer: ViewerRequest, line: LineView, action: str, now: float
    ) -> Response:
        params = viewer.params
        cache = self.surfaces.catalogs
        kind = LIST_KINDS.get(action)
        if kind is not None:
            if action in CATEGORY_ACTIONS:
                listing = await self._listing(line, action, None, kind)
                return send(plain_headers(request), listing.body, JSON)
            category_id = _int_param(params, "category_id", zero_is_none=True)
            # §4.1: rarely used pagination, with bracketed query names.
            offset = _int_param(params, "params[offset]") or 0
            limit = _int_param(params, "params[items_per_page]")
            if category_id is not None:
                # Only categories the set uses get a list of their own: any other id is
                # an empty list, not one more cache entry.
                section = cache.peek_section(line.tenant_id, line.bouquet_ids, kind, line.blocked)
                if section is None:
                    section = await run_in_threadpool(
                        cache.section, line.tenant_id, line.bouquet_ids, kind, line.blocked
                    )
                if category_id not in section.used_category_ids:
                    return send(plain_headers(request), EMPTY_ARRAY, JSON)
            listing = await self._listing(line, action, category_id, kind)
            return send(plain_headers(request), listing.page(offset, limit), JSON)
        result = await run_in_threadpool(self.details, line, action, params, now)
        return json_response(plain_headers(request), result)

    async def _listing(
        self, line: LineView, action: str, category_id: int | None, kind: str
    ) -> JsonArray:
        cache = self.surfaces.catalogs
        name, kinds = (action, category_id), (kind,)
        found: JsonArray | None = cache.peek(
            line.tenant_id, line.bouquet_ids, name, kinds, line.blocked
        )
        if found is not None:
            return found
        listing: JsonArray = await run_in_threadpool(
            cache.built,
            line.tenant_id,
            line.bouquet_ids,
            name,
            kinds,
            _list_builder(action, category_id),
            line.blocked,
        )
        return listing

    def details(self, line: LineView, action: str, params: dict[str, str], now: float) -> Any:
        """Per-item actions: VOD and series info, EPG (runs in a worker thread)."""
        cache, tenant_id, bouquet_ids = self.surfaces.catalogs, line.tenant_id, line.bouquet_ids
        if action == "get_vod_info":
            vod_id = _int_param(params, "vod_id")
            movies = cache.vod(tenant_id, bouquet_ids, line.blocked).by_id
            movie = movies.get(vod_id) if vod_id else None
            if movie is None:
                return xtream.vod_info(None)
            with self.surfaces.ctx.db.session() as session:
                media = load_media_info(session, tenant_id, Movie, [movie.id])
            return xtream.vod_info(movie, media.get(movie.id))
        if action == "get_series_info":
            series_id = _int_param(params, "series_id")
            by_id = cache.series(tenant_id, bouquet_ids, line.blocked).by_id
            series = by_id.get(series_id) if series_id else None
            if series is None:
                return xtream.series_info(None, [], [])
            with self.surfaces.ctx.db.session() as session:
                seasons = load_seasons(session, line.tenant_id, series.id)
                episodes = load_episodes(session, line.tenant_id, [series.id]).get(series.id, [])
                media = load_media_info(session, tenant_id, Episode, [e.id for e in episodes])
            return xtream.series_info(series, seasons, episodes, media)
        return self.epg(
            cache.live(tenant_id, bouquet_ids, line.blocked), line, action, params, int(now)
        )

    def epg(
        self,
        live: LiveSection,
        line: LineView,
        action: str,
        params: dict[str, str],
        now: int,
    ) -> Any:
        guide = self.surfaces.guide()
        zone = ZoneInfo(self.surfaces.settings.timezone)
        raw_ids = params.get("stream_id", "").strip()
        if action == "get_epg" and "," in raw_ids:
            # §4.1: XUI's multi form, an object keyed by stream id.
            ids = [_int_param({"stream_id": p}, "stream_id") for p in raw_ids.split(",") if p]
            return {str(i): self._unix_rows(live, line, i, params, now) for i in ids}
        stream_id = _int_param(params, "stream_id")
        if action == "get_epg":
            return self._unix_rows(live, line, stream_id, params, now)
        channel = live.by_id.get(stream_id) if stream_id else None
        if channel is None or not channel.epg_channel_id:
            return {"epg_listings": []}  # §4.8: unknown stream / no EPG
        if action == "get_short_epg":
            limit = _int_param(params, "limit") or 4
            rows = guide.upcoming(line.tenant_id, channel.epg_channel_id, now, max(1, limit))
            return {"epg_listings": [xtream.epg_row(r, zone) for r in rows]}
        rows = guide.programmes(line.tenant_id, channel.epg_channel_id, 0, 2**31 - 1)
        held = self.surfaces.archive_holds(line.tenant_id, channel.id)
        return {
            "epg_listings": [
                xtream.epg_row(r, zone, now=now, archive_days=channel.archive_days, recorded=held)
                for r in rows
            ]
        }

    def _unix_rows(
        self,
        live: LiveSection,
        line: LineView,
        stream_id: int | None,
        params: dict[str, str],
        now: int,
    ) -> list[dict[str, Any]]:
        channel = live.by_id.get(stream_id) if stream_id else None
        if channel is None or not channel.epg_channel_id:
            return []
        start = now if params.get("from_now") == "1" else 0
        rows = self.surfaces.guide().programmes(
            line.tenant_id, channel.epg_channel_id, start, 2**31 - 1
        )
        return [xtream.epg_row_unix(r) for r in rows if r.stop > start]
