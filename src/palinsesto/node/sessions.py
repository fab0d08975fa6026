"""The viewers a node serves, keyed by the session id their play token carries.

The panel admitted each one (it holds the session's slot); the node keeps what it needs to
serve it from memory and to report it back: which sessions are alive, which started and
which ended since the last heartbeat the panel acknowledged. One session per token: HLS
reloads and segments reuse it, and a second TS connection with the same token replaces the
first (a player reconnecting) without the session ending.

Sessions the panel ended (``end_sessions``) are remembered until their token expires, so a
player cannot come back with the same token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from palinsesto.protocol.messages import SessionEnd
from palinsesto.protocol.play_tokens import PlayKind

# Plays made of separate requests (playlist reloads, byte ranges): alive while requests come.
REQUEST_KINDS = (
    PlayKind.hls, PlayKind.vod, PlayKind.archive, PlayKind.vod_hls, PlayKind.vod_proxy,
)  # fmt: skip
# Plays that watch a running channel (what the channel's viewer count means).
CHANNEL_KINDS = (PlayKind.ts, PlayKind.hls)


@dataclass(eq=False)
class NodeSession:
    id: int
    tenant_id: int
    line_id: int
    channel_id: int
    kind: PlayKind
    expires: int  # the token's expiry (unix s)
    started: float
    last_seen: float
    bytes_sent: int = 0  # HLS: segments served; TS: what ``bytes_fn`` reads is added on end
    # A TS session's live byte count (its viewer's) and how to cut its connection.
    bytes_fn: Callable[[], int] | None = None
    cut: Callable[[], None] | None = None
    # A TS session: stop its live picture, send this clip, then end (the panel's slate).
    to_slate: Callable[[bytes], None] | None = None
    ended: bool = False
    sending: int = 0  # VOD and catch-up: responses being sent now (never idle meanwhile)

    def total_bytes(self) -> int:
        return self.bytes_sent + (self.bytes_fn() if self.bytes_fn is not None else 0)


@dataclass
class Reports:
    """What the next heartbeat says about sessions that changed."""

    started: list[int] = field(default_factory=list)
    ended: list[SessionEnd] = field(default_factory=list)


class NodeSessions:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._sessions: dict[int, NodeSession] = {}
        self._refused: dict[int, int] = {}  # session id -> until (its token's expiry)
        self.pending = Reports()
        self.bytes_of_ended = 0  # what sessions that ended sent, for the egress figure
        self.hls_timeout = 30.0

    def get(self, session_id: int) -> NodeSession | None:
        return self._sessions.get(session_id)

    def all(self) -> list[NodeSession]:
        return list(self._sessions.values())

    def __len__(self) -> int:
        return len(self._sessions)

    def refused(self, session_id: int) -> bool:
        """Whether the panel ended this session (its token opens nothing any more)."""
        until = self._refused.get(session_id)
        return until is not None and until >= self._clock()

    def open(
        self,
        session_id: int,
        tenant_id: int,
        line_id: int,
        channel_id: int,
        kind: PlayKind,
        expires: int,
    ) -> NodeSession:
        """The alive session of this token, or a new one (reported as started)."""
        session = self._sessions.get(session_id)
        if session is not None:
            return session
        now = self._clock()
        session = NodeSession(session_id, tenant_id, line_id, channel_id, kind, expires, now, now)
        self._sessions[session_id] = session
        self.pending.started.append(session_id)
        return session

    def touch(self, session: NodeSession) -> None:
        session.last_seen = self._clock()

    def end(self, session: NodeSession, reason: str) -> None:
        """End ``session`` (cutting its connection, if any) and report it once."""
        if session.ended:
            return
        session.ended = True
        if self._sessions.get(session.id) is session:
            del self._sessions[session.id]
        sent = session.total_bytes()
        self.bytes_of_ended += sent
        self.pending.ended.append(SessionEnd(session.id, reason, sent))
        cut, session.cut = session.cut, None
        if cut is not None:
            cut()

    def end_by_panel(self, session_ids: tuple[int, ...], far: int) -> int:
        """End the sessions the panel named; their tokens are refused until ``far`` (unix
        s) or their expiry. The number of sessions that were running here."""
        ended = 0
        for session_id in session_ids:
            session = self._sessions.get(session_id)
            self._refused[session_id] = session.expires if session is not None else far
            if session is not None:
                self.end(session, "ended by the panel")
                ended += 1
        return ended

    def slated_by_panel(self, session_ids: tuple[int, ...], far: int) -> list[NodeSession]:
        """Of the sessions the panel ends with a slate, those whose TS player can show
        it: refused from now as :meth:`end_by_panel` does, ended once the clip is sent."""
        found = []
        for session_id in session_ids:
            session = self._sessions.get(session_id)
            if session is not None and session.to_slate is not None and not session.ended:
                self._refused[session_id] = session.expires
                found.append(session)
        return found

    def expire_idle(self) -> None:
        """End HLS, VOD and catch-up sessions not heard from for ``hls_timeout`` seconds
        (and sending nothing); forget refusals whose tokens have expired."""
        now = self._clock()
        for session in list(self._sessions.values()):
            if (
                session.kind in REQUEST_KINDS
                and session.sending == 0
                and now - session.last_seen > self.hls_timeout
            ):
                self.end(session, "idle: no request")
        for session_id, until in list(self._refused.items()):
            if until < now:
                del self._refused[session_id]

    def acknowledged(self, sent: Reports) -> None:
        """The panel took a heartbeat carrying ``sent``: those need not be said again."""
        pending = self.pending
        pending.started = pending.started[len(sent.started) :]
        pending.ended = pending.ended[len(sent.ended) :]

    def snapshot(self) -> Reports:
        return Reports(list(self.pending.started), list(self.pending.ended))

    def report_all_started(self) -> None:
        """After a re-registration: every alive session is new to the panel again."""
        alive = set(self.pending.started)
        self.pending.started += [s for s in self._sessions if s not in alive]

    def of_channel(self, channel_id: int, kind: PlayKind | None = None) -> int:
        """The sessions watching the channel (of ``kind``; None: live TS and HLS, not a
        VOD play whose item id happens to be the same number)."""
        kinds = CHANNEL_KINDS if kind is None else (kind,)
        return sum(
            1 for s in self._sessions.values() if s.channel_id == channel_id and s.kind in kinds
        )

    def bytes_sent(self) -> int:
        """Every byte sessions sent so far (ended and alive)."""
        return self.bytes_of_ended + sum(s.total_bytes() for s in self._sessions.values())
