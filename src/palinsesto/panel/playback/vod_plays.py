"""VOD plays as connections (reference §8.6, §9): one :class:`ViewingSession` per play.

A player seeking in a movie sends a new ``Range`` request, often on a new connection,
and closes the old one only after the new one answers (ffmpeg does). Counting each
request would make a ``max_connections=1`` line refuse its own seek, so the requests of
one play, the same (line, item, IP, user agent), share one session; it ends when the last
of their connections closes. Kicking the session (connection limit, a disabled line, an
administrator) closes every one of its connections.

:meth:`VodPlays.open` is the one place VOD admission happens; it goes through
:meth:`SessionRegistry.admit`, the live surface's admission, so a movie and a live
channel count against the same limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from palinsesto.panel.playback.admission import SessionRegistry, ViewingSession
from palinsesto.panel.playback.vod_access import VodGrant

PlayKey = tuple[int, str, int, str, str]


@dataclass(eq=False)
class _Play:
    key: PlayKey
    session: ViewingSession
    cuts: set[Callable[[], None]] = field(default_factory=set)


@dataclass(eq=False)
class VodTicket:
    """One request's share of a play; give it back with :meth:`VodPlays.close`."""

    play: _Play
    cut: Callable[[], None]

    @property
    def session(self) -> ViewingSession:
        return self.play.session


class VodPlays:
    def __init__(self, sessions: SessionRegistry) -> None:
        self._sessions = sessions
        self._plays: dict[PlayKey, _Play] = {}

    def open(self, grant: VodGrant, ip: str, user_agent: str, cut: Callable[[], None]) -> VodTicket:
        """Admit this request (joining the play already open for the same viewer and
        item); raises TooManyConnections under the refuse policy. ``cut`` closes this
        request's connection when the session is ended."""
        key = self.key_of(grant, ip, user_agent)
        play = self._plays.get(key)
        if play is None or play.session.ended:
            # The session's output names the URL family ("movie" or "series"), so its
            # channel_id (here the movie or episode id) is read against the right table.
            session = self._sessions.admit(
                grant.line,
                grant.item.id,
                ip,
                user_agent,
                grant.item.kind.value,
                grant.policy,
                grant.max_viewers,
            )
            play = _Play(key, session)
            self._plays[key] = play
            session.cut = lambda p=play: self._cut_all(p)
        play.cuts.add(cut)
        return VodTicket(play, cut)

    @staticmethod
    def key_of(grant: VodGrant, ip: str, user_agent: str) -> PlayKey:
        return (grant.line.id, grant.item.kind.value, grant.item.id, ip, user_agent)

    def close(self, ticket: VodTicket, reason: str = "viewer left") -> None:
        play = ticket.play
        play.cuts.discard(ticket.cut)
        if not play.cuts:
            if self._plays.get(play.key) is play:
                del self._plays[play.key]
            self._sessions.end(play.session, reason)

    def _cut_all(self, play: _Play) -> None:
        if self._plays.get(play.key) is play:
            del self._plays[play.key]
        cuts, play.cuts = list(play.cuts), set()
        for cut in cuts:
            cut()

    def __len__(self) -> int:
        return len(self._plays)
