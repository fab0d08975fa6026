"""``panel_api.php``: the legacy all-in-one call (reference §3.4).

``user_info`` + a short ``server_info`` + ``categories`` keyed by type +
``available_channels`` keyed by stream id. The catalogue half is the same for every line
of a bouquet set, so it is serialised once and the per-line head is spliced in front.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from palinsesto.panel.playback import xtream
from palinsesto.panel.playback.bodies import Body, send
from palinsesto.panel.playback.catalog_cache import KINDS, Sections
from palinsesto.panel.playback.lines import LineRefused
from palinsesto.panel.playback.player_api import JSON, PlayerApi, json_response, refusal
from palinsesto.panel.playback.viewer import (
    LoginThrottled,
    ViewerSurfaces,
    plain_headers,
    viewer_request,
)

SERVER_KEYS = ("url", "port", "https_port", "server_protocol")  # §3.4: these four only


def catalogue_fragment(sections: Sections) -> bytes:
    """``{"categories": {...}, "available_channels": {...}}`` for a bouquet set.

    ``available_channels`` holds the live channels: in XC every stream shared one id
    space, here channels and movies are numbered separately, so mixing them would let a
    movie overwrite the channel with the same id.
    """
    live = sections.live
    channels: dict[str, Any] = {}
    for item in xtream.live_items(live, None):
        cat = int(item["category_id"]) if item["category_id"] else None
        channels[str(item["stream_id"])] = xtream.panel_channel(
            item, "Live Streams", live.category_name(cat)
        )
    return orjson.dumps(
        {
            # §3.4: an object keyed by category type.
            "categories": {
                "live": xtream.categories(live.used_categories()),
                "movie": xtream.categories(sections.vod.used_categories()),
                "series": xtream.categories(sections.series.used_categories()),
            },
            # §3.4: an object keyed by stream id (§14: objects stay objects, even empty).
            "available_channels": channels,
        }
    )


EMPTY_FRAGMENT = orjson.dumps(
    {"categories": {"live": [], "movie": [], "series": []}, "available_channels": {}}
)


class PanelApi:
    """The ``panel_api.php`` endpoint."""

    def __init__(self, surfaces: ViewerSurfaces, player_api: PlayerApi) -> None:
        self.surfaces = surfaces
        self.player_api = player_api

    async def handle(self, request: Request) -> Response:
        viewer = await viewer_request(request)
        headers = plain_headers(request)
        try:
            line = await self.surfaces.authenticate(viewer, require_active=False)
        except (LoginThrottled, LineRefused) as exc:
            return refusal(headers, exc)
        now = time.time()
        active = line.status(now) == "Active"
        if viewer.params.get("action") == "get_epg":
            if not active:
                return json_response(headers, [])
            rows = await run_in_threadpool(
                self.player_api.details, line, "get_epg", viewer.params, now
            )
            return json_response(headers, rows)
        cache = self.surfaces.catalogs
        tenant = cache.peek_tenant(line.tenant_id)
        if tenant is None:
            tenant = await run_in_threadpool(cache.tenant, line.tenant_id)
        if active:
            fragment: bytes | None = cache.peek(
                line.tenant_id, line.bouquet_ids, "panel_api", KINDS, line.blocked
            )
            if fragment is None:
                fragment = await run_in_threadpool(
                    cache.built,
                    line.tenant_id,
                    line.bouquet_ids,
                    "panel_api",
                    KINDS,
                    catalogue_fragment,
                    line.blocked,
                )
        else:
            fragment = EMPTY_FRAGMENT
        settings = self.surfaces.settings
        user = xtream.user_info(
            line,
            now=now,
            message=tenant[1],
            active_cons=self.surfaces.active_cons(line.id, line.tenant_id),
            active_cons_as_string=settings.xtream_active_cons_as_string,
        )
        identity = self.surfaces.server_for(viewer, request.url.scheme)
        server = xtream.server_info(identity, now=now)
        head = orjson.dumps({"user_info": user, "server_info": {k: server[k] for k in SERVER_KEYS}})
        return send(headers, Body(head[:-1] + b"," + fragment[1:]), JSON)
