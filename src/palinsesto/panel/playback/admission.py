"""Viewing sessions and the connection limit (reference §8.6, §9).

Every play (TS or HLS) holds a :class:`ViewingSession`; ``max_connections`` counts them per
line across outputs (an HLS session counts once and ends ``hls_timeout`` seconds after its
last request). At the limit, the tenant's policy decides: ``refuse`` (429) or
``kick_oldest``, choosing victims with the same IP and user agent first, then the same IP,
then the oldest (XUI's rule, §9), so zapping on one device never kicks another.

All methods run on the event loop, one at a time, so an admission decision is atomic.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.panel.playback.lines import LineView

# Outputs whose sessions no socket holds: a play of live HLS, or of a movie or an episode
# as HLS, lasts while its requests come and ends ``hls_timeout`` seconds after the last.
REQUEST_HELD = frozenset({"hls", "movie-hls", "series-hls"})
HlsKey = tuple[int, str, int, str, str]  # line, output, channel (or movie/episode), IP, UA


class TooManyConnections(Exception):
    """The line is at its limit and the tenant refuses new connections (429, §9)."""

    code = "USER_MAX_CONNECTIONS"


class TooManyViewers(TooManyConnections):
    """The tenant's plan allows no more concurrent viewers (``max_viewers``); always
    refused, never a kick: another customer's viewer must not lose its picture (429)."""

    code = "TENANT_MAX_VIEWERS"


class SyndicationFull(TooManyConnections):
    """A syndicated channel's offer allows the partner no more viewers at once; refused,
    never a kick (429)."""

    code = "SYNDICATION_MAX_VIEWERS"


class SyndicationTotalFull(SyndicationFull):
    """A syndicated channel's offer allows all its partners together no more viewers at
    once; refused, never a kick (429)."""

    code = "SYNDICATION_TOTAL_VIEWERS"


class SessionKicked(Exception):
    """This HLS session was ended (kicked or cut): its next request gets 403 (§9)."""


@dataclass(eq=False)
class ViewingSession:
    id: int
    tenant_id: int
    line_id: int
    username: str
    password: str
    channel_id: int
    ip: str
    user_agent: str
    output: str  # "ts" or "hls"; "movie"/"series" (+ "-hls"): channel_id is the VOD item
    started_at: float  # unix time
    last_seen: float  # monotonic
    bytes_sent: int = 0
    bytes_fn: Callable[[], int] | None = None
    cut: Callable[[], None] | None = None
    ended: bool = False
    end_reason: str = ""
    extra: dict[str, object] = field(default_factory=dict)
    # (unix time, bytes) up to which the usage meter has counted this session.
    metered: tuple[float, int] = (0.0, 0)
    # A syndicated play: the entry the line asked for (its own tenant's id) and the
    # syndication; ``channel_id`` is then the owner's channel, whose runner serves it.
    entry_id: int = 0
    syndication_id: int | None = None
    offer_id: int | None = None  # the syndication's offer, when it caps all partners

    def __post_init__(self) -> None:
        self.metered = (self.started_at, 0)

    @property
    def bytes(self) -> int:
        return self.bytes_fn() if self.bytes_fn is not None else self.bytes_sent


class SessionRegistry:
    """Live sessions of this process; ``active_count`` feeds the player API's active_cons."""

    def __init__(
        self,
        hls_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.hls_timeout = hls_timeout
        self._clock, self._wall = clock, wall
        self._ids = itertools.count(1)
        self._by_id: dict[int, ViewingSession] = {}
        self._by_line: dict[int, list[ViewingSession]] = {}
        self._per_tenant: dict[int, int] = {}
        self._per_syndication: dict[int, int] = {}
        self._per_offer: dict[int, int] = {}  # only offers with a total cap
        # For the usage meter (playback/metering.py): the most sessions each tenant had at
        # once since the last sample, and what ended sessions used since they were metered.
        self.peaks: dict[int, int] = {}
        self.ended_usage: dict[int, tuple[float, int]] = {}
        self._hls: dict[HlsKey, ViewingSession] = {}
        self._kicked_hls: dict[HlsKey, float] = {}
        self.kicked = 0
        self.refused = 0

    def active_count(self, line_id: int) -> int:
        return len(self._by_line.get(line_id, ()))

    def tenant_count(self, tenant_id: int) -> int:
        """Live sessions of a tenant on this node (the plan's ``max_viewers`` counts these)."""
        return self._per_tenant.get(tenant_id, 0)

    def syndication_count(self, syndication_id: int) -> int:
        """Live sessions a partner has on a syndicated channel (the offer's cap counts these)."""
        return self._per_syndication.get(syndication_id, 0)

    def syndication_counts(self) -> dict[int, int]:
        return dict(self._per_syndication)

    def offer_count(self, offer_id: int) -> int:
        """Live sessions of every partner of an offer with a total cap (the cap counts these)."""
        return self._per_offer.get(offer_id, 0)

    def get(self, session_id: int) -> ViewingSession | None:
        return self._by_id.get(session_id)

    def all(self) -> list[ViewingSession]:
        return list(self._by_id.values())

    def admit(
        self,
        line: LineView,
        channel_id: int,
        ip: str,
        user_agent: str,
        output: str,
        policy: ConnectionPolicy,
        tenant_limit: int | None = None,
        *,
        entry_id: int = 0,
        syndication: tuple[int, int | None] | None = None,
        offer: tuple[int, int] | None = None,
    ) -> ViewingSession:
        """A session for this play, or :class:`TooManyConnections` / :class:`SessionKicked`.

        ``tenant_limit`` is the plan's ``max_viewers``: a new session beyond it raises
        :class:`TooManyViewers` whatever the connection policy (a reload of a running HLS
        session is not a new viewer). ``syndication`` is (syndication id, the offer's viewer
        cap) for a partner's play of a syndicated channel: beyond the cap,
        :class:`SyndicationFull`. ``offer`` is (offer id, its total cap) when the offer also
        caps all partners together: beyond it, :class:`SyndicationTotalFull`."""
        now = self._clock()
        key = (line.id, output, channel_id, ip, user_agent)
        if output in REQUEST_HELD:
            existing = self._hls.get(key)
            if existing is not None and not existing.ended:
                existing.last_seen = now
                return existing
            until = self._kicked_hls.get(key)
            if until is not None:
                if until > now:
                    raise SessionKicked("this HLS session was ended")
                del self._kicked_hls[key]
        active = self._by_line.get(line.id, [])
        limit = line.max_connections
        # Kicking one of this line's own sessions frees a place, so the plan's limit is
        # checked only for a play that would not replace one.
        replaces = bool(limit) and len(active) >= limit and policy is ConnectionPolicy.kick_oldest
        victims = self._victims(active, ip, user_agent, len(active) - limit + 1) if replaces else []
        if tenant_limit is not None and not replaces:
            if self._per_tenant.get(line.tenant_id, 0) >= tenant_limit:
                self.refused += 1
                raise TooManyViewers(f"the plan allows {tenant_limit} concurrent viewers")
        # A syndication's (or offer's) cap: a kicked session frees a place in it only if it
        # counted there (the line's other session may watch something else).
        if syndication is not None and syndication[1] is not None:
            freed = sum(v.syndication_id == syndication[0] for v in victims)
            if self._per_syndication.get(syndication[0], 0) - freed >= syndication[1]:
                self.refused += 1
                raise SyndicationFull(
                    f"the channel's owner allows this panel {syndication[1]} viewers at once"
                )
        if offer is not None:
            freed = sum(v.offer_id == offer[0] for v in victims)
            if self._per_offer.get(offer[0], 0) - freed >= offer[1]:
                self.refused += 1
                raise SyndicationTotalFull(
                    "the channel's owner allows its partners no more viewers"
                )
        if limit and len(active) >= limit:
            if policy is ConnectionPolicy.refuse:
                self.refused += 1
                raise TooManyConnections(f"line {line.username} is at {limit} connections")
            for victim in victims:
                self.kicked += 1
                self.end(victim, "kicked: connection limit")
        session = ViewingSession(
            next(self._ids),
            line.tenant_id,
            line.id,
            line.username,
            line.password,
            channel_id,
            ip,
            user_agent,
            output,
            self._wall(),
            now,
            entry_id=entry_id or channel_id,
            syndication_id=syndication[0] if syndication is not None else None,
            offer_id=offer[0] if offer is not None and syndication is not None else None,
        )
        if session.syndication_id is not None:
            synd = session.syndication_id
            self._per_syndication[synd] = self._per_syndication.get(synd, 0) + 1
        if session.offer_id is not None:
            self._per_offer[session.offer_id] = self._per_offer.get(session.offer_id, 0) + 1
        self._by_id[session.id] = session
        self._by_line.setdefault(line.id, []).append(session)
        count = self._per_tenant.get(session.tenant_id, 0) + 1
        self._per_tenant[session.tenant_id] = count
        self.peaks[session.tenant_id] = max(self.peaks.get(session.tenant_id, 0), count)
        if output in REQUEST_HELD:
            self._hls[key] = session
        return session

    @staticmethod
    def _victims(
        active: list[ViewingSession], ip: str, user_agent: str, count: int
    ) -> list[ViewingSession]:
        def rank(s: ViewingSession) -> tuple[int, float]:
            same = 0 if (s.ip == ip and s.user_agent == user_agent) else 1 if s.ip == ip else 2
            return same, s.started_at

        return sorted(active, key=rank)[:count]

    def touch(self, session: ViewingSession) -> None:
        session.last_seen = self._clock()

    def end(self, session: ViewingSession, reason: str) -> None:
        """End a session: forget it and cut its viewer (closes a TS socket)."""
        if session.ended:
            return
        session.ended = True
        session.end_reason = reason
        if session.bytes_fn is not None:
            session.bytes_sent = session.bytes_fn()
            session.bytes_fn = None
        if self._by_id.pop(session.id, None) is not None:
            metered_at, metered_bytes = session.metered
            seconds, sent = self.ended_usage.get(session.tenant_id, (0.0, 0))
            self.ended_usage[session.tenant_id] = (
                seconds + max(0.0, self._wall() - metered_at),
                sent + max(0, session.bytes_sent - metered_bytes),
            )
            left = self._per_tenant.get(session.tenant_id, 0) - 1
            if left > 0:
                self._per_tenant[session.tenant_id] = left
            else:
                self._per_tenant.pop(session.tenant_id, None)
            synd = session.syndication_id
            if synd is not None:
                held = self._per_syndication.get(synd, 0) - 1
                if held > 0:
                    self._per_syndication[synd] = held
                else:
                    self._per_syndication.pop(synd, None)
            if session.offer_id is not None:
                held = self._per_offer.get(session.offer_id, 0) - 1
                if held > 0:
                    self._per_offer[session.offer_id] = held
                else:
                    self._per_offer.pop(session.offer_id, None)
        line_sessions = self._by_line.get(session.line_id)
        if line_sessions is not None:
            if session in line_sessions:
                line_sessions.remove(session)
            if not line_sessions:
                del self._by_line[session.line_id]
        if session.output in REQUEST_HELD:
            key = (
                session.line_id,
                session.output,
                session.channel_id,
                session.ip,
                session.user_agent,
            )
            if self._hls.get(key) is session:
                del self._hls[key]
            if not reason.startswith("idle"):
                self._kicked_hls[key] = self._clock() + self.hls_timeout
        if session.cut is not None:
            cut, session.cut = session.cut, None
            cut()

    def expire_idle(self) -> list[ViewingSession]:
        """End HLS sessions with no request for ``hls_timeout`` seconds."""
        now = self._clock()
        stale = [
            s for s in self._hls.values() if now - s.last_seen > self.hls_timeout and not s.ended
        ]
        for session in stale:
            self.end(session, "idle: no HLS request")
        for key in [k for k, until in self._kicked_hls.items() if until <= now]:
            del self._kicked_hls[key]
        return stale

    def hls_sessions_of(self, channel_id: int) -> int:
        return sum(
            1 for s in self._hls.values() if s.output == "hls" and s.channel_id == channel_id
        )
