"""A remote movie or episode relayed by a node (``delivery = proxy``):
``/vodproxy/<token>/<tag>/<movie|series>.<ext>``, opened by a play token of kind
``vod_proxy`` that the panel signed over the item's kind and its source's tag
(:func:`~palinsesto.protocol.play_tokens.source_tag`).

The source URL is in no URL the viewer sees: once the token holds, the node asks its
panel for it (node API ``vod-sources``, once per item and :data:`SOURCE_SECONDS`), with
the panel's outbound policy. A token that does not verify costs the panel nothing; one
whose tag is not the kept source's asks the panel again (the item's source changed), and
is refused when the panel's answer still differs. The fetch goes where both the panel's
policy and the node's own allow
(node/vod_proxy.py relays it: ``Range``/``If-Range`` passed on, 200/206/416 relayed,
anything else of the origin's kept in the node's log).

A play is one session, shared by its range requests, as a file's is (node/file_plays.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from palinsesto.node.dataplane import Connection, HttpRequest, Reply, Written
from palinsesto.node.file_plays import session_cut
from palinsesto.node.vod_proxy import RemoteProxy
from palinsesto.outbound.policy import OutboundPolicy, both, policy_from_text
from palinsesto.protocol.messages import VodSource
from palinsesto.protocol.play_tokens import PlayKind, relayed_subject, source_tag

if TYPE_CHECKING:
    from palinsesto.node.token_delivery import TokenDelivery

log = logging.getLogger(__name__)

SOURCE_SECONDS = 30.0  # a source the panel named is used this long without asking again
NO_SOURCE_SECONDS = 10.0  # an item the panel has no relayed source for
CORS = (("Access-Control-Allow-Origin", "*"),)
NOT_FOUND = Reply(404, b"STREAM_NOT_FOUND\n", headers=CORS)

FetchVodSource = Callable[[str, int], Awaitable[VodSource | None]]


class ProxyPlays:
    def __init__(self, delivery: TokenDelivery) -> None:
        self.delivery = delivery
        self.node = delivery.node
        self.proxy = RemoteProxy(OutboundPolicy())  # each relay gets its own policy
        #: Asks the panel for a relayed item's source (set by the panel link).
        self.fetch_source: FetchVodSource | None = None
        # (kind, item id) -> (until (monotonic s), the panel's answer)
        self._sources: dict[tuple[str, int], tuple[float, VodSource | None]] = {}
        self._asking: dict[tuple[str, int], asyncio.Future[VodSource | None]] = {}
        self._sending: dict[int, set[Connection]] = {}

    async def play(
        self, token: str, tag: str, kind: str, request: HttpRequest, conn: Connection
    ) -> Reply | Written | None:
        checked = self.delivery.check(
            token, request, PlayKind.vod_proxy, relayed_subject(kind, tag)
        )
        if isinstance(checked, Reply):
            return checked
        key = (kind, checked[0].channel_id)
        source = await self._source(key)
        if source is not None and source_tag(source.url) != tag:
            # Signed for another source than the one kept: the item changed since.
            self._sources.pop(key, None)
            source = await self._source(key)
        if source is None or source_tag(source.url) != tag:
            return NOT_FOUND
        grant, session = checked
        node = self.node
        if session is None and not node.accepting:
            return Reply(503, f"{node.refusal}\n".encode(), headers=CORS)
        panel = policy_from_text(
            source.allow_networks, source.denied_hosts, allow_all=source.allow_all
        )
        policy = both(panel, node.policy.outbound)
        label = f"vod {grant.channel_id}"
        if request.method == "HEAD":
            return await self.proxy.relay(source.url, request, conn, lambda n: None, label, policy)
        if session is None:
            session = node.sessions.open(
                grant.session_id, grant.tenant_id, grant.line_id, grant.channel_id,
                PlayKind.vod_proxy, grant.expires,
            )  # fmt: skip
        sessions = node.sessions
        conns = self._sending.setdefault(session.id, set())
        conns.add(conn)
        session_cut(session, conns)
        session.sending += 1
        sessions.touch(session)
        task = asyncio.current_task()

        def lost() -> None:  # the player left: stop relaying at once
            if task is not None:
                task.cancel()

        def counted(n: int) -> None:
            session.bytes_sent += n

        conn.on_lost = lost
        try:
            return await self.proxy.relay(source.url, request, conn, counted, label, policy)
        finally:
            conn.on_lost = None
            session.sending -= 1
            sessions.touch(session)
            conns.discard(conn)
            if not conns:
                self._sending.pop(session.id, None)

    async def _source(self, key: tuple[str, int]) -> VodSource | None:
        """The panel's answer for the item (kind, id), kept a little; None: none (or the
        panel is away: the play is refused, the next one asks again)."""
        known = self._sources.get(key)
        if known is not None and known[0] > time.monotonic():
            return known[1]
        pending = self._asking.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._ask(key))
            self._asking[key] = pending
            pending.add_done_callback(lambda _f: self._asking.pop(key, None))
        return await asyncio.shield(pending)

    async def _ask(self, key: tuple[str, int]) -> VodSource | None:
        fetch = self.fetch_source
        if fetch is None:
            return None
        try:
            found = await fetch(*key)
        except Exception as exc:  # noqa: BLE001 - the panel is away: this play is refused
            log.warning("the source of %s %d could not be asked: %s", *key, exc)
            return None
        if len(self._sources) > 10_000:
            self._sources.clear()
        seconds = SOURCE_SECONDS if found is not None else NO_SOURCE_SECONDS
        self._sources[key] = (time.monotonic() + seconds, found)
        return found
