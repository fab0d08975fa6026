"""A node's one conversation with its panel: register, then heartbeat every reply's
``heartbeat_seconds``, applying each reply (state, keys, assignments, sessions to end).

The panel being away never stops the node: it keeps serving from memory with the last
reply (admitted viewers keep watching, tokens keep verifying with the last keys) and tries
again after 1 s, doubling up to the heartbeat interval. A beat that was not acknowledged is
re-sent whole (its started and ended sessions are said again). A 401 means the panel
revoked this node's token: it takes no new plays until a reply says otherwise. Each change
of the link's condition is logged once, not each failed attempt.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from typing import Any
from urllib.parse import urlsplit

import httpx

from palinsesto.node.load import LoadMeter
from palinsesto.node.remote import RemoteNode
from palinsesto.protocol.messages import (
    CHANNEL_PATH,
    HEARTBEAT_PATH,
    REGISTER_PATH,
    VOD_SOURCE_PATH,
    Assignment,
    NodeState,
    PanelReply,
    Registration,
    VodSource,
)

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 10.0


class PanelUnavailable(Exception):
    """The panel could not be reached, answered 5xx, or answered something unreadable."""


class TokenRejected(Exception):
    """The panel refused this node's token (401/403): a wrong or revoked token."""


class NotRegistered(PanelUnavailable):
    """The panel does not know this node's registration (404/409 to a heartbeat): it
    registers again."""


class LinkState(enum.StrEnum):
    connecting = "connecting"
    connected = "connected"
    unreachable = "unreachable"
    rejected = "rejected"
    unregistered = "unregistered"


class PanelLink:
    def __init__(
        self,
        node: RemoteNode,
        panel_url: str,
        token: str,
        registration: Registration,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.node = node
        self.panel_url = panel_url.rstrip("/")
        self.registration = registration
        self._client = client or httpx.AsyncClient(
            timeout=REQUEST_TIMEOUT_SECONDS, follow_redirects=False
        )
        self._headers = {"Authorization": f"Bearer {token}"}
        self.meter = LoadMeter(node.bytes_sent)
        self.interval = 5.0
        self.state = LinkState.connecting
        self.registered = False
        self.last_reply: PanelReply | None = None
        node.fetch_assignment = self.fetch_channel
        node.public_host = urlsplit(registration.public_url).hostname or ""
        node.delivery.proxied.fetch_source = self.fetch_vod_source

    async def aclose(self) -> None:
        await self._client.aclose()

    # ---- requests ----

    async def _call(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        try:
            response = await self._client.request(
                method, self.panel_url + path, json=body, headers=self._headers
            )
        except httpx.HTTPError as exc:
            raise PanelUnavailable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        if response.status_code in (401, 403):
            raise TokenRejected(_reason(response))
        if response.status_code == 404 and method == "GET":
            return None
        if response.status_code in (404, 409) and path == HEARTBEAT_PATH:
            raise NotRegistered(_reason(response))
        if response.status_code >= 300:
            raise PanelUnavailable(f"HTTP {response.status_code}: {_reason(response)}")
        try:
            return response.json()
        except ValueError:
            raise PanelUnavailable("the panel's answer is not JSON") from None

    async def _instructed(self, path: str, body: dict[str, Any]) -> PanelReply:
        raw = await self._call("POST", path, body)
        try:
            if not isinstance(raw, dict):
                raise ValueError("expected an object")
            return PanelReply.from_json(raw)
        except ValueError as exc:
            raise PanelUnavailable(f"unreadable reply: {exc}") from None

    async def register(self) -> PanelReply:
        """One registration attempt; the reply is applied."""
        reply = await self._instructed(REGISTER_PATH, self.registration.to_json())
        self.registered = True
        self.node.sessions.report_all_started()  # the panel's view starts over
        await self._adopt(reply)
        return reply

    async def beat(self) -> PanelReply:
        """One heartbeat; the reply is applied and the sessions it carried acknowledged."""
        sessions = self.node.sessions
        reports = sessions.snapshot()
        egress, cpu = self.meter.sample()
        beat = self.node.heartbeat(egress, cpu, reports.started, reports.ended)
        reply = await self._instructed(HEARTBEAT_PATH, beat.to_json())
        sessions.acknowledged(reports)
        await self._adopt(reply)
        return reply

    async def fetch_channel(self, channel_id: int) -> Assignment | None:
        """The panel's assignment of a channel this node was asked to play, or None."""
        raw = await self._call("GET", CHANNEL_PATH.format(channel_id=channel_id), None)
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise PanelUnavailable("the channel answer is not an object")
        return Assignment.from_json(raw)

    async def fetch_vod_source(self, kind: str, item_id: int) -> VodSource | None:
        """A relayed movie's or episode's source and the panel's outbound policy, or None
        (not an item of this node's tenant that is relayed)."""
        raw = await self._call("GET", VOD_SOURCE_PATH.format(kind=kind, item_id=item_id), None)
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise PanelUnavailable("the source answer is not an object")
        try:
            return VodSource.from_json(raw)
        except ValueError as exc:
            raise PanelUnavailable(f"unreadable source answer: {exc}") from None

    async def _adopt(self, reply: PanelReply) -> None:
        was = self.last_reply.state if self.last_reply is not None else None
        self.last_reply = reply
        self.interval = max(0.2, reply.heartbeat_seconds)
        await self.node.apply(reply)
        if reply.state is not was and was is not None:
            # Back online is normal operation; draining or lost is worth a look.
            level = logging.INFO if reply.state is NodeState.online else logging.WARNING
            log.log(level, "the panel set this node %s", reply.state.value)
        if reply.state is NodeState.lost:
            # Our lease lapsed (the panel placed our channels elsewhere): introduce
            # ourselves again on the next turn.
            self.registered = False

    # ---- the loop ----

    def _now(self, state: LinkState, detail: str = "") -> None:
        """Log a change of the link's condition once."""
        if state is self.state:
            return
        self.state = state
        if state is LinkState.connected:
            log.info("panel %s reachable: heartbeats every %.1f s", self.panel_url, self.interval)
        elif state is LinkState.unreachable:
            log.warning(
                "panel %s unreachable (%s): serving from memory, retrying", self.panel_url, detail
            )
        elif state is LinkState.unregistered:
            log.warning("the panel does not know this node (%s): registering again", detail)
        elif state is LinkState.rejected:
            log.error(
                "panel %s refused this node's token (%s): taking no new plays",
                self.panel_url,
                detail,
            )

    async def run(self) -> None:
        """Heartbeat (or register again) for ever; never raises for the panel's sake."""
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                if self.registered:
                    await self.beat()
                else:
                    await self.register()
            except TokenRejected as exc:
                self.node.revoked = True
                self._now(LinkState.rejected, str(exc))
                await asyncio.sleep(self.interval)
                continue
            except NotRegistered as exc:
                self._now(LinkState.unregistered, str(exc))
                self.registered = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.interval)
                continue
            except PanelUnavailable as exc:
                self._now(LinkState.unreachable, str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.interval)
                continue
            delay = FIRST_RETRY_SECONDS
            self._now(LinkState.connected)
            await asyncio.sleep(self.interval)

    async def farewell(self) -> None:
        """A last beat carrying the sessions that ended at stop (best effort, brief)."""
        if not self.registered:
            return
        try:
            await asyncio.wait_for(self.beat(), 3.0)
        except (PanelUnavailable, TokenRejected, TimeoutError):
            pass


def _reason(response: httpx.Response) -> str:
    text = response.text.strip().splitlines()
    detail = text[0][:200] if text else ""
    try:
        raw = response.json()
        if isinstance(raw, dict) and isinstance(raw.get("detail"), str):
            detail = raw["detail"][:200]
    except ValueError:
        pass
    return f"{response.status_code} {detail}".strip()
