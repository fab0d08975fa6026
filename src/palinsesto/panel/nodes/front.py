"""The node API and node admission, served ahead of FastAPI (like the viewer surfaces:
playback/routes.py): both are hot paths, a heartbeat every couple of seconds from each
node, and an admission for every play.

* ``POST /node-api/v1/register`` and ``/heartbeat``: ``Authorization: Bearer <node
  token>``; 401 for an unknown or revoked token, 422 with the sentence for a malformed
  body; the reply is a :class:`~palinsesto.protocol.messages.PanelReply`.
* ``GET /node-api/v1/channels/{id}``: one Assignment of the node's own tenant (404 else).
* ``GET /node-api/v1/vod-sources/{movie|series}/{id}``: a relayed item's source URL and
  the outbound policy, for a node of the item's tenant (404 else).
* ``/live/U/P/ID.ts|.m3u8`` and ``/U/P/ID[.ext]`` of a tenant that has nodes: sign-in
  (throttled), authorization, a session slot, a node, and a 302 to the node's
  ``/play/<token>.ts|.m3u8``. ``/movie/U/P/ID.ext`` and ``/series/U/P/ID.ext`` alike, to
  the node's ``/vod/<token>/<path in the tenant's media folder>`` (``.m3u8``: its
  ``/vodhls/``, the file as VOD HLS; a relayed remote source: its ``/vodproxy/``); catch-up
  (``/timeshift/...``, ``/streaming/timeshift.php``) to the node whose archive holds the
  window, ``/archive/<token>/<start>/<minutes>.ts|m3u8``. Lines of tenants
  without nodes, and every other path, go on to the application unchanged (the
  all-in-one's local node).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import time
from collections.abc import Awaitable
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from starlette.types import ASGIApp, Receive, Scope, Send

from palinsesto.catalog.models import RemoteDelivery
from palinsesto.cluster.node_leases import LeasesUnavailable
from palinsesto.cluster.session_slots import SlotsUnavailable
from palinsesto.node.archive.paths import TIMESHIFT_PREFIXES, BadTimeshift, parse_timeshift
from palinsesto.node.vod_files import RemoteUrl, VodSourceRefused, classify_source, tenant_root
from palinsesto.panel.nodes.control import (
    Admitted,
    NoArchive,
    NodeControl,
    NodeIdentity,
    UnknownNode,
)
from palinsesto.panel.nodes.vod_sources import relayed_source
from palinsesto.panel.placement import NoNodeAvailable
from palinsesto.panel.playback.access import (
    Grant,
    NotCached,
    PlaybackRequest,
)
from palinsesto.panel.playback.admission import TooManyConnections
from palinsesto.panel.playback.lines import LineView, LoginThrottled
from palinsesto.panel.playback.refusals import refusal_status
from palinsesto.panel.playback.stream_paths import (
    LivePath,
    VodKind,
    VodPath,
    fast_live_path,
    parse_delivery_path,
)
from palinsesto.panel.playback.vod_access import VodRequest
from palinsesto.panel.playback.watch_tokens import SIGNED_USER, WatchTokenRefused
from palinsesto.protocol.messages import (
    API_PREFIX,
    HEARTBEAT_PATH,
    REGISTER_PATH,
    Assignment,
    Heartbeat,
    Registration,
)
from palinsesto.protocol.play_tokens import PlayKind

log = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024  # a heartbeat of a busy node: many sessions' ids
_CHANNEL_PATH = re.compile(rf"^{API_PREFIX}/channels/([0-9]{{1,10}})$")
_VOD_SOURCE_PATH = re.compile(rf"^{API_PREFIX}/vod-sources/(movie|series)/([0-9]{{1,10}})$")
# Paths of the panel itself never go through admission (they have 3 segments too).
_NOT_STREAMS = ("/api/", "/panel/", "/node-api/", "/hls/", "/timeshift", "/streaming/")

CORS = [(b"access-control-allow-origin", b"*")]


async def _reply(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = b"text/plain; charset=utf-8",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *CORS,
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _json(send: Send, status: int, value: Any) -> None:
    await _reply(send, status, json.dumps(value).encode(), b"application/json")


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, or None when it is larger than :data:`MAX_BODY`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _redirect(send: Send, url: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 302,
            "headers": [
                (b"location", url.encode()),
                (b"content-length", b"0"),
                (b"cache-control", b"no-store"),
                *CORS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class NodeFront:
    """ASGI middleware: the node API and node admission, everything else to ``app``."""

    def __init__(self, app: ASGIApp, control: NodeControl) -> None:
        self.app = app
        self.control = control
        self._zone = ZoneInfo(control.settings.timezone)  # timeshift start times are in it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Installed twice (in the app's middleware, and ahead of FastAPI by viewer_first):
        # the first to see a request decides, the second lets it pass.
        if scope["type"] == "http" and not scope.get("palinsesto.node_front"):
            scope["palinsesto.node_front"] = True
            path: str = scope["path"]
            if path.startswith(API_PREFIX):
                await self._node_api(scope, receive, send)
                return
            if path.startswith(TIMESHIFT_PREFIXES):
                if await self._timeshift(scope, send):
                    return
            elif not path.startswith(_NOT_STREAMS) and path.count("/") in (3, 4):
                if await self._admission(scope, send):
                    return
        await self.app(scope, receive, send)

    # ---- the node API ----

    async def _node_api(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        auth = _header(scope, b"authorization")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not token:
            await _json(send, 401, {"detail": "a node token is required (Bearer)"})
            return
        control = self.control
        try:
            cached = control.identity_cached(token)
            if cached is False:
                node = await asyncio.to_thread(control.identify, token)
            elif cached is None:
                raise UnknownNode("unknown or revoked node token")
            else:
                assert isinstance(cached, NodeIdentity)
                node = cached
        except UnknownNode as exc:
            await _json(send, 401, {"detail": str(exc)})
            return
        if path in (REGISTER_PATH, HEARTBEAT_PATH):
            if method != "POST":
                await _json(send, 405, {"detail": "use POST"})
                return
            await self._post(path, node, receive, send)
            return
        match = _CHANNEL_PATH.match(path)
        if match and method in ("GET", "HEAD"):
            await self._channel(node, int(match[1]), send)
            return
        match = _VOD_SOURCE_PATH.match(path)
        if match and method in ("GET", "HEAD"):
            await self._vod_source(node, VodKind(match[1]), int(match[2]), send)
            return
        await _json(send, 404, {"detail": "not found"})

    async def _post(self, path: str, node: NodeIdentity, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:
            await _json(send, 413, {"detail": f"the body is larger than {MAX_BODY} bytes"})
            return
        try:
            raw = json.loads(body or b"{}")
            if not isinstance(raw, dict):
                raise ValueError("expected a JSON object")
            if path == REGISTER_PATH:
                registration = Registration.from_json(raw)
                _check_url(registration.public_url)
                reply = await self.control.register(node, registration)
            else:
                beat = Heartbeat.from_json(raw)
                reply = await self.control.heartbeat(node, beat)
        except UnknownNode as exc:
            await _json(send, 401, {"detail": str(exc)})
            return
        except (SlotsUnavailable, LeasesUnavailable):
            # The node keeps serving on its last reply and beats again (no session is cut).
            await _json(send, 503, {"detail": "session store unavailable"})
            return
        except ValueError as exc:  # json.JSONDecodeError is one
            await _json(send, 422, {"detail": str(exc)})
            return
        await _json(send, 200, reply.to_json())

    async def _channel(self, node: NodeIdentity, channel_id: int, send: Send) -> None:
        control = self.control
        found: dict[str, Any] | None = None
        for assignment in await control.assignments(node.id, node.tenant_id):
            if assignment.channel.id == channel_id:
                found = assignment.to_json()
        if found is None:
            info = await control.channel_info(node.tenant_id, channel_id)
            if info is not None and info.tenant_id == node.tenant_id and info.enabled:
                found = Assignment(info).to_json()
        if found is None:
            await _json(send, 404, {"detail": f"no channel {channel_id}"})
            return
        await _json(send, 200, found)

    async def _vod_source(
        self, node: NodeIdentity, kind: VodKind, item_id: int, send: Send
    ) -> None:
        """A relayed item's source, for a node of its tenant (vod_sources.py)."""
        control = self.control
        ask = (control.settings, control.vod_access, node.tenant_id, kind, item_id)
        try:
            found = relayed_source(*ask, cached_only=True)
        except NotCached:
            found = await asyncio.to_thread(relayed_source, *ask)
        if found is None:
            await _json(send, 404, {"detail": f"no relayed {kind.value} {item_id}"})
            return
        await _json(send, 200, found.to_json())

    # ---- admission ----

    async def _admission(self, scope: Scope, send: Send) -> bool:
        """True when this request was a play of a tenant with nodes, and was answered."""
        if scope["method"] not in ("GET", "HEAD"):
            return False
        raw_path = scope.get("raw_path")
        path = raw_path.partition(b"?")[0].decode("latin-1") if raw_path else scope["path"]
        target: LivePath | VodPath | None = fast_live_path(path)
        if target is None:
            try:
                parsed = parse_delivery_path(path)
            except (ValueError, LookupError):
                return False  # the application answers as it always did
            if not isinstance(parsed, LivePath | VodPath):
                return False
            target = parsed
        is_file = isinstance(target, VodPath)
        item_id = target.item_id if isinstance(target, VodPath) else target.stream_id
        if not await self._has_nodes(target.username, target.password, item_id, live=not is_file):
            return False
        client = scope.get("client")
        if isinstance(target, VodPath):
            vod = VodRequest(
                target.username,
                target.password,
                target.kind,
                target.item_id,
                client[0] if client else "",
                _header(scope, b"user-agent"),
                time.time(),
                _header(scope, b"host"),
            )
            return await self._admit_file(vod, target.extension, send)
        play = PlaybackRequest(
            target.username,
            target.password,
            target.stream_id,
            target.output,
            client[0] if client else "",
            _header(scope, b"user-agent"),
            time.time(),
            _header(scope, b"host"),
        )
        return await self._admit(play, send)

    async def _has_nodes(
        self, username: str, password: str, item_id: int, *, live: bool = True
    ) -> bool:
        """Whether the play is of a tenant whose plays go to nodes: ``username`` a line of
        it, or a watch token of it (the watch page, the panel's previews); or a line's play
        (``live``: of channel ``item_id``) of another panel's channel it carries, whose
        owner streams from its nodes (the owner's nodes serve it: one ingest)."""
        control = self.control
        if username == SIGNED_USER:
            tokens = control.access.watch_tokens
            if tokens is None:
                return False
            try:
                tenant_id = tokens.verify(password, item_id, time.time()).tenant_id
            except WatchTokenRefused:
                return False  # the application refuses it as it always did
        else:
            lines = control.access.lines
            line = lines.cached_view(username)
            if line is False:
                line = await asyncio.to_thread(lines.lookup, username)
            if not isinstance(line, LineView):
                return False
            tenant_id = line.tenant_id
            # Whether another panel's channel is carried is read only for the line itself:
            # a wrong password is refused (and throttled) where it always was.
            live = live and hmac.compare_digest(line.password.encode(), password.encode())
        if await self._nodes_of(tenant_id):
            return True
        if not live or username == SIGNED_USER:
            return False
        return await self._owner_on_nodes(tenant_id, item_id) is True

    async def _nodes_of(self, tenant_id: int) -> bool:
        control = self.control
        has_nodes = control.tenant_has_nodes(tenant_id, cached_only=True)
        if has_nodes is None:
            has_nodes = await asyncio.to_thread(control.tenant_has_nodes, tenant_id)
        return bool(has_nodes)

    async def _owner_on_nodes(self, tenant_id: int, channel_id: int) -> bool | None:
        """Whether ``channel_id`` of ``tenant_id`` is a syndicated entry whose owner
        streams from its nodes (None: it is not a syndicated entry)."""
        access = self.control.access
        try:
            terms = access.syndicated(tenant_id, channel_id, cached_only=True)
        except NotCached:
            terms = await asyncio.to_thread(access.syndicated, tenant_id, channel_id)
        if terms is None:
            return None
        return await self._nodes_of(terms.owner_tenant_id)

    async def _timeshift(self, scope: Scope, send: Send) -> bool:
        """A catch-up play of a tenant with nodes (True: answered): authorized as a live
        play, then a slot on the node whose archive holds the window and a 302 to its
        ``/archive/<token>/<start>/<minutes>.ts|m3u8``."""
        if scope["method"] not in ("GET", "HEAD"):
            return False
        raw_path = scope.get("raw_path")
        path = raw_path.split(b"?")[0].decode("latin-1") if raw_path else scope["path"]
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        try:
            target = parse_timeshift(path, query, self._zone)
        except BadTimeshift:
            return False  # the application answers as it always did
        if not await self._has_nodes(target.username, target.password, target.stream_id):
            return False
        client = scope.get("client")
        play = PlaybackRequest(
            target.username,
            target.password,
            target.stream_id,
            "ts",
            client[0] if client else "",
            _header(scope, b"user-agent"),
            time.time(),
            _header(scope, b"host"),
        )
        access = self.control.access
        try:
            try:
                grant = access.authorize(play, cached_only=True)
            except NotCached:
                grant = await asyncio.to_thread(access.authorize, play)
        except Exception as exc:  # noqa: BLE001 - mapped below, else re-raised
            await self._refuse(exc, send)
            return True
        if grant.syndicated is not None and not await self._nodes_of(
            grant.syndicated.owner_tenant_id
        ):
            return False  # the owner's archive is recorded by the all-in-one's engine
        # A syndicated channel's window comes from its owner's archive on the owner's
        # nodes (control.admit_archive), as the all-in-one serves the owner's archive.
        admission = self.control.admit_archive(
            grant,
            int(target.start),
            target.duration // 60,
            target.output,
            play.ip,
            play.user_agent,
        )
        await self._placed(admission, send)
        return True

    async def _admit(self, play: PlaybackRequest, send: Send) -> bool:
        """Authorize and place a live play (True: answered; False: the application
        serves it, a partner's play of a channel whose owner has no nodes)."""
        access = self.control.access
        try:
            grant = access.authorize_fast(play)
            if grant is None:
                try:
                    grant = access.authorize_remembering(play, cached_only=True)
                except NotCached:
                    grant = await asyncio.to_thread(access.authorize_remembering, play)
        except Exception as exc:  # noqa: BLE001 - mapped below, else re-raised
            await self._refuse(exc, send)
            return True
        return await self._place(grant, play, send)

    async def _place(self, grant: Grant, play: PlaybackRequest, send: Send) -> bool:
        if grant.syndicated is not None and not await self._nodes_of(
            grant.syndicated.owner_tenant_id
        ):
            # Another panel's channel whose owner has no nodes runs where the owner's
            # channels run: the all-in-one's engine (never a second ingest on a node).
            return False
        kind = PlayKind.hls if play.output == "m3u8" else PlayKind.ts
        await self._placed(self.control.admit(grant, kind, play.ip, play.user_agent), send)
        return True

    async def _admit_file(self, play: VodRequest, extension: str, send: Send) -> bool:
        """A movie or episode: authorized as the all-in-one does (vod_access.py), then a
        slot on a node and a 302 to its ``/vod/<token>/<path>`` (``.m3u8``: its
        ``/vodhls/<token>/<path>.m3u8``, the file as VOD HLS cut on the node); a source that
        is an http(s) URL is a 302 to it (the all-in-one's "direct source"), unless the item
        is relayed (``delivery = proxy``: never shown to viewers): then a 302 to the node's
        ``/vodproxy/<token>/<kind>.<ext>``, the node relaying the source."""
        control = self.control
        access = control.vod_access
        try:
            try:
                grant = access.authorize(play, cached_only=True)
            except NotCached:
                grant = await asyncio.to_thread(access.authorize, play)
        except Exception as exc:  # noqa: BLE001 - mapped below, else re-raised
            await self._refuse(exc, send)
            return True
        media_root = control.settings.effective_media_root
        try:
            source = classify_source(media_root, grant.line.tenant_id, grant.item.source_url)
        except VodSourceRefused:
            await _reply(send, 404, b"STREAM_NOT_FOUND\n")
            return True
        if isinstance(source, RemoteUrl):
            if grant.item.delivery is RemoteDelivery.proxy:
                admitted = control.admit_relayed(
                    grant, source.url, extension, play.ip, play.user_agent
                )
                await self._placed(admitted, send)
                return True
            await _redirect(send, source.url)
            return True
        folder = os.path.realpath(tenant_root(media_root, grant.line.tenant_id))
        relative = os.path.relpath(source.path, folder)
        hls = extension == "m3u8"
        await self._placed(control.admit_file(grant, relative, play.ip, play.user_agent, hls), send)
        return True

    async def _placed(self, admission: Awaitable[Admitted], send: Send) -> None:
        """Await a node admission; the 302 to the node, or the refusal."""
        try:
            admitted = await admission
        except NoNodeAvailable as exc:
            await _reply(send, 503, f"{exc}\n".encode())
            return
        except NoArchive as exc:
            await _reply(send, 404, f"{exc}\n".encode())
            return
        except (SlotsUnavailable, LeasesUnavailable):
            await _reply(send, 503, b"session store unavailable\n")
            return
        except TooManyConnections as exc:
            await _reply(send, 429, f"{exc.code}\n".encode())
            return
        await _redirect(send, admitted.url)

    async def _refuse(self, exc: Exception, send: Send) -> None:
        status = refusal_status(exc)
        if status is None:
            raise exc
        body = f"{getattr(exc, 'code', 'REFUSED')}\n".encode()
        headers = []
        if isinstance(exc, LoginThrottled):
            headers.append((b"retry-after", str(exc.retry_after).encode()))
        await _reply(send, status, body, headers=headers)


async def admit_elsewhere(
    control: NodeControl, grant: Grant, play: PlaybackRequest
) -> tuple[int, bytes, str]:
    """The all-in-one engine's way to the owner's nodes (local_node/delivery.py): a
    partner's play of a syndicated channel whose owner streams from its nodes, admitted as
    :class:`NodeFront` admits it. (status, body, Location): a 302 to the node, or the
    refusal."""
    kind = PlayKind.hls if play.output == "m3u8" else PlayKind.ts
    try:
        admitted = await control.admit(grant, kind, play.ip, play.user_agent)
    except NoNodeAvailable as exc:
        return 503, f"{exc}\n".encode(), ""
    except (SlotsUnavailable, LeasesUnavailable):
        return 503, b"session store unavailable\n", ""
    except TooManyConnections as exc:
        return 429, f"{exc.code}\n".encode(), ""
    return 302, b"", admitted.url


def _check_url(url: str) -> None:
    if not url.startswith(("http://", "https://")) or len(url) > 500:
        raise ValueError("public_url: expected an http:// or https:// URL")
