"""What a node and its panel say to each other over HTTP (JSON bodies), and nothing else.

The node speaks first and always: it registers (``POST /node-api/v1/register``), then
heartbeats every ``heartbeat_seconds`` (``POST /node-api/v1/heartbeat``) with its load and
the sessions that started, ended or are still alive since the last beat; each reply renews
its lease and carries everything the node needs to work from memory: its state, the
signing keys, the channels assigned to it, and sessions to end. A node that is not heard
from for ``lease_seconds`` is lost: its sessions' slots are freed and its channels placed
elsewhere. Every request carries ``Authorization: Bearer <node token>``.

``from_json`` raises :class:`ValueError` with a sentence on any malformed field: the panel
answers 422 with it, and a node logs it and keeps its last good state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from palinsesto.protocol.channels import ChannelInfo
from palinsesto.protocol.play_tokens import SigningKey

API_PREFIX = "/node-api/v1"
REGISTER_PATH = f"{API_PREFIX}/register"
HEARTBEAT_PATH = f"{API_PREFIX}/heartbeat"
# A node asked to play a channel it does not carry yet (an on-demand channel placed at the
# player's admission) fetches its facts here: ``GET`` answers an :class:`Assignment`, 404
# when the channel is not for this node.
CHANNEL_PATH = f"{API_PREFIX}/channels/{{channel_id}}"
# A node relaying a remote movie or episode (``delivery = proxy``) asks its source here:
# ``GET`` answers a :class:`VodSource`, 404 for an item of another tenant or not relayed.
VOD_SOURCE_PATH = f"{API_PREFIX}/vod-sources/{{kind}}/{{item_id}}"


class NodeState(enum.StrEnum):
    online = "online"  # takes new sessions and channels
    draining = "draining"  # keeps what it serves, takes nothing new
    lost = "lost"  # its lease lapsed


def _int(raw: dict[str, Any], name: str, default: int | None = None) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: expected an integer")
    return value


def _float(raw: dict[str, Any], name: str, default: float | None = None) -> float:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: expected a number")
    return float(value)


def _str(raw: dict[str, Any], name: str, default: str | None = None) -> str:
    value = raw.get(name, default)
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a string")
    return value


def _list(raw: dict[str, Any], name: str) -> list[Any]:
    value = raw.get(name, [])
    if not isinstance(value, list):
        raise ValueError(f"{name}: expected a list")
    return value


def _ints(raw: dict[str, Any], name: str) -> tuple[int, ...]:
    values = _list(raw, name)
    if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise ValueError(f"{name}: expected a list of integers")
    return tuple(values)


@dataclass(frozen=True, slots=True)
class Capacity:
    egress_mbps: int = 1000
    max_channels: int = 100
    cpus: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "egress_mbps": self.egress_mbps,
            "max_channels": self.max_channels,
            "cpus": self.cpus,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Capacity:
        return cls(
            _int(raw, "egress_mbps", 1000), _int(raw, "max_channels", 100), _int(raw, "cpus", 1)
        )


@dataclass(frozen=True, slots=True)
class Registration:
    """A node introducing itself; the token in the header says which node it is."""

    name: str
    public_url: str  # where players reach its data plane, e.g. http://198.51.100.7:8001
    rtmp_url: str  # where publishers push, e.g. rtmp://198.51.100.7:1935/live ("" = none)
    capacity: Capacity
    version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "public_url": self.public_url,
            "rtmp_url": self.rtmp_url,
            "capacity": self.capacity.to_json(),
            "version": self.version,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Registration:
        capacity = raw.get("capacity", {})
        if not isinstance(capacity, dict):
            raise ValueError("capacity: expected an object")
        return cls(
            _str(raw, "name"),
            _str(raw, "public_url"),
            _str(raw, "rtmp_url", ""),
            Capacity.from_json(capacity),
            _str(raw, "version", ""),
        )


@dataclass(frozen=True, slots=True)
class ChannelLoad:
    channel_id: int
    state: str  # the runner's state: starting, running, backing_off, stopped
    viewers: int
    healthy: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "state": self.state,
            "viewers": self.viewers,
            "healthy": self.healthy,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ChannelLoad:
        return cls(
            _int(raw, "channel_id"),
            _str(raw, "state"),
            _int(raw, "viewers", 0),
            bool(raw.get("healthy", False)),
        )


@dataclass(frozen=True, slots=True)
class SessionEnd:
    session_id: int
    reason: str
    bytes_sent: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "reason": self.reason, "bytes_sent": self.bytes_sent}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SessionEnd:
        return cls(
            _int(raw, "session_id"), _str(raw, "reason", "")[:200], _int(raw, "bytes_sent", 0)
        )


# Recorded stretches a heartbeat reports per channel (the newest; older gaps matter less).
MAX_STRETCHES = 200


@dataclass(frozen=True, slots=True)
class ArchiveSpans:
    """What a node's catch-up archive holds of one channel: recorded stretches (start, end)
    in unix seconds, oldest first; the panel offers catch-up only inside them. ``bytes``:
    the disk its recordings use (0 from a node that does not say)."""

    channel_id: int
    stretches: tuple[tuple[float, float], ...]
    bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "stretches": [[round(a, 3), round(b, 3)] for a, b in self.stretches],
            "bytes": self.bytes,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ArchiveSpans:
        if not isinstance(raw, dict):
            raise ValueError("archives: expected objects")
        stretches = []
        for pair in _list(raw, "stretches")[-MAX_STRETCHES:]:
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in pair)
            ):
                raise ValueError("stretches: expected [start, end] pairs of numbers")
            stretches.append((float(pair[0]), float(pair[1])))
        return cls(_int(raw, "channel_id"), tuple(stretches), max(0, _int(raw, "bytes", 0)))


def _srt_urls(raw: dict[str, Any]) -> tuple[tuple[int, str], ...]:
    value = raw.get("srt_ingest", {})
    if not isinstance(value, dict):
        raise ValueError("srt_ingest: expected an object")
    found = []
    for key, url in value.items():
        if not str(key).isdigit() or not isinstance(url, str):
            raise ValueError("srt_ingest: expected channel ids and srt:// URLs")
        if not url.startswith("srt://") or len(url) > 300:
            raise ValueError("srt_ingest: expected srt:// URLs")
        found.append((int(key), url))
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A node's load and its sessions since the last beat.

    ``alive``: every session it serves now (renews their slots); ``started``/``ended``:
    what changed since the last acknowledged beat (a beat that failed is re-sent whole)."""

    viewers: int
    egress_mbps: float
    cpu_percent: float
    channels: tuple[ChannelLoad, ...] = ()
    alive: tuple[int, ...] = ()
    started: tuple[int, ...] = ()
    ended: tuple[SessionEnd, ...] = ()
    archives: tuple[ArchiveSpans, ...] = ()  # the channels this node records
    # Where publishers reach the SRT listeners of the push_srt channels this node carries
    # (channel id, ``srt://host:port``; the passphrase is the channel's stream key).
    srt_ingest: tuple[tuple[int, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "archives": [a.to_json() for a in self.archives],
            "srt_ingest": {str(k): v for k, v in self.srt_ingest},
            "viewers": self.viewers,
            "egress_mbps": self.egress_mbps,
            "cpu_percent": self.cpu_percent,
            "channels": [c.to_json() for c in self.channels],
            "alive": list(self.alive),
            "started": list(self.started),
            "ended": [e.to_json() for e in self.ended],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Heartbeat:
        return cls(
            _int(raw, "viewers", 0),
            _float(raw, "egress_mbps", 0.0),
            _float(raw, "cpu_percent", 0.0),
            tuple(ChannelLoad.from_json(c) for c in _list(raw, "channels")),
            _ints(raw, "alive"),
            _ints(raw, "started"),
            tuple(SessionEnd.from_json(e) for e in _list(raw, "ended")),
            tuple(ArchiveSpans.from_json(a) for a in _list(raw, "archives")),
            _srt_urls(raw),
        )


@dataclass(frozen=True, slots=True)
class Assignment:
    """A channel the node must carry. ``origin_url``: this node is an edge and pulls the
    channel from that node instead of from the channel's sources (one upstream connection
    per channel, whatever the number of nodes); ``always_on``: start it now, not at the
    first play."""

    channel: ChannelInfo
    always_on: bool = False
    origin_url: str = ""

    def to_json(self) -> dict[str, Any]:
        c = self.channel
        return {
            "channel": {
                "id": c.id,
                "tenant_id": c.tenant_id,
                "name": c.name,
                "sources": list(c.sources),
                "on_demand": c.on_demand,
                "transcode_profile": c.transcode_profile,
                "enabled": c.enabled,
                "stream_key": c.stream_key,
                "archive_days": c.archive_days,
                "watermark": c.watermark,
            },
            "always_on": self.always_on,
            "origin_url": self.origin_url,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Assignment:
        c = raw.get("channel")
        if not isinstance(c, dict):
            raise ValueError("channel: expected an object")
        sources = _list(c, "sources")
        if not all(isinstance(s, dict) for s in sources):
            raise ValueError("channel.sources: expected a list of objects")
        key = c.get("stream_key")
        if key is not None and not isinstance(key, str):
            raise ValueError("channel.stream_key: expected a string or null")
        info = ChannelInfo(
            id=_int(c, "id"),
            tenant_id=_int(c, "tenant_id"),
            name=_str(c, "name"),
            sources=tuple(sources),
            on_demand=bool(c.get("on_demand", True)),
            transcode_profile=_str(c, "transcode_profile", "copy"),
            enabled=bool(c.get("enabled", True)),
            stream_key=key,
            archive_days=_int(c, "archive_days", 0),
            watermark=c.get("watermark") is True,
        )
        return cls(info, bool(raw.get("always_on", False)), _str(raw, "origin_url", ""))


@dataclass(frozen=True, slots=True)
class VodSource:
    """Where a relayed movie or episode is, and the panel's outbound policy in its text
    forms (``outbound_allow_networks``, denied host names, allow-all): the node fetches
    the source only if this policy and its own both allow it."""

    url: str
    allow_networks: str = ""
    denied_hosts: str = ""
    allow_all: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "outbound": {
                "allow_networks": self.allow_networks,
                "denied_hosts": self.denied_hosts,
                "allow_all": self.allow_all,
            },
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> VodSource:
        outbound = raw.get("outbound", {})
        if not isinstance(outbound, dict):
            raise ValueError("outbound: expected an object")
        url = _str(raw, "url")
        if not url.startswith(("http://", "https://")):
            raise ValueError("url: expected an http:// or https:// URL")
        return cls(
            url,
            _str(outbound, "allow_networks", ""),
            _str(outbound, "denied_hosts", ""),
            outbound.get("allow_all") is True,
        )


@dataclass(frozen=True, slots=True)
class PanelReply:
    """The panel's answer to a registration or a heartbeat: the node's whole instructions."""

    node_id: int
    state: NodeState
    heartbeat_seconds: float
    lease_seconds: float
    keys: tuple[SigningKey, ...]
    assignments: tuple[Assignment, ...] = ()
    end_sessions: tuple[int, ...] = ()
    token_ttl_seconds: int = 60
    hls_session_timeout_seconds: int = 30
    extra: dict[str, Any] = field(default_factory=dict)
    # Of ``end_sessions``: those whose TS players get the "ended" slate before their
    # stream closes (another panel's channel they watched stopped being carried).
    end_slated: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "state": self.state.value,
            "heartbeat_seconds": self.heartbeat_seconds,
            "lease_seconds": self.lease_seconds,
            "keys": [k.to_json() for k in self.keys],
            "assignments": [a.to_json() for a in self.assignments],
            "end_sessions": list(self.end_sessions),
            "token_ttl_seconds": self.token_ttl_seconds,
            "hls_session_timeout_seconds": self.hls_session_timeout_seconds,
            **({"extra": self.extra} if self.extra else {}),
            **({"end_slated": list(self.end_slated)} if self.end_slated else {}),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PanelReply:
        try:
            state = NodeState(_str(raw, "state"))
        except ValueError:
            raise ValueError("state: expected online, draining or lost") from None
        extra = raw.get("extra", {})
        return cls(
            _int(raw, "node_id"),
            state,
            _float(raw, "heartbeat_seconds"),
            _float(raw, "lease_seconds"),
            tuple(SigningKey.from_json(k) for k in _list(raw, "keys")),
            tuple(Assignment.from_json(a) for a in _list(raw, "assignments")),
            _ints(raw, "end_sessions"),
            _int(raw, "token_ttl_seconds", 60),
            _int(raw, "hls_session_timeout_seconds", 30),
            extra if isinstance(extra, dict) else {},
            _ints(raw, "end_slated"),
        )
