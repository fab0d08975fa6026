"""Signed browser playback: the panel's preview and the public watch page.

A browser that plays a channel without a line (an admin previewing it, anyone with the
share link of a *public* channel) is given a URL of the standard live form with a reserved
user name and a token in place of the password::

    /live/~watch/<token>/<channel id>.m3u8

``~`` cannot appear in a line's user name (letters, digits and ``. _ @ -``, reference
§13.20), so the form never shadows a line. The token is ``base64url(kind, tenant, channel,
subject, expiry) + HMAC-SHA256`` (truncated to 128 bits): checked with one HMAC, without the
database, like the HLS segment tokens (hls_tokens.py). It carries no admin credential: it
names one channel, for one purpose, until it expires, and only for HLS.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Any

from palinsesto.panel.playback.lines import LineView

SIGNED_USER = "~watch"
# Stand-in line ids of signed plays start here: far above any real line id (a 32-bit column)
# and still positive, as the HLS segment tokens pack them unsigned.
SIGNED_LINE_BASE = 1 << 40
_BODY = struct.Struct(">BQQQI")
_MAC_BYTES = 16


class WatchKind(enum.IntEnum):
    preview = 1  # an admin's preview in the panel; subject = the admin user's id
    public = 2  # the watch page of a public channel; subject = 0
    # An admin's preview of a movie (VOD): "channel" is the movie's id, and only
    # /movie/~watch/<token>/<id>.<ext> accepts it (never a live channel of that id).
    movie_preview = 3

    @property
    def is_live(self) -> bool:
        return self is not WatchKind.movie_preview


class WatchTokenRefused(ValueError):
    """Malformed, tampered or expired (the delivery surface answers 403)."""

    code = "TOKEN_REFUSED"


@dataclass(frozen=True, slots=True)
class WatchGrant:
    kind: WatchKind
    tenant_id: int
    channel_id: int
    subject_id: int
    expires: int

    @property
    def viewer_name(self) -> str:
        """How the live sessions list names this viewer."""
        if self.kind is WatchKind.preview:
            return f"~preview (admin #{self.subject_id})"
        if self.kind is WatchKind.movie_preview:
            return f"~movie preview (admin #{self.subject_id})"
        return "~watch page"

    def as_line(self) -> LineView:
        """A stand-in line for admission: HLS only, no connection limit, this channel only.

        Its id is at or above :data:`SIGNED_LINE_BASE` (no real line has one), so sessions
        of signed plays are told apart from lines' and not re-checked against the lines table.
        """
        return LineView(
            id=SIGNED_LINE_BASE + self.channel_id * 4 + int(self.kind),
            tenant_id=self.tenant_id,
            username=self.viewer_name,
            password="",
            exp_date=self.expires,
            created_at=0,
            max_connections=0,
            is_trial=False,
            enabled=True,
            banned=False,
            tenant_active=True,
            allowed_outputs=("m3u8",),
            allowed_ips=frozenset(),
            allowed_user_agents=frozenset(),
            bouquet_ids=(),
        )


class WatchTokens:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"palinsesto-watch\x00" + secret.encode()).digest()

    def issue(
        self,
        kind: WatchKind,
        tenant_id: int,
        channel_id: int,
        subject_id: int,
        expires: float,
    ) -> str:
        body = _BODY.pack(int(kind), tenant_id, channel_id, subject_id, int(expires))
        mac = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(body + mac).rstrip(b"=").decode()

    def verify(self, token: str, channel_id: int, now: float) -> WatchGrant:
        """The grant in ``token`` for ``channel_id``, if signed by us and not expired."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            raise WatchTokenRefused("malformed token") from None
        if len(raw) != _BODY.size + _MAC_BYTES:
            raise WatchTokenRefused("malformed token")
        body, mac = raw[: _BODY.size], raw[_BODY.size :]
        expected = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            raise WatchTokenRefused("bad signature")
        kind, tenant_id, token_channel, subject_id, expires = _BODY.unpack(body)
        if kind not in WatchKind._value2member_map_:
            raise WatchTokenRefused("unknown kind")
        if token_channel != channel_id:
            raise WatchTokenRefused("token is for another channel")
        if expires < now:
            raise WatchTokenRefused("expired")
        return WatchGrant(WatchKind(kind), tenant_id, token_channel, subject_id, expires)


def is_signed_line(line_id: int) -> bool:
    """Whether a session's line id stands for a signed browser play, not a line."""
    return line_id >= SIGNED_LINE_BASE


def movie_watch_path(token: str, movie_id: int, extension: str) -> str:
    """The file path a browser's <video> plays a movie preview from (302 to the node)."""
    return f"/movie/{SIGNED_USER}/{token}/{movie_id}.{extension}"


def watch_path(token: str, channel_id: int) -> str:
    """The HLS path a browser plays with ``token`` (on the panel port, 302 to the node)."""
    return f"/live/{SIGNED_USER}/{token}/{channel_id}.m3u8"


def issuing_watch_tokens(services: dict[str, Any]) -> WatchTokens | None:
    """The watch tokens the admin API signs with: the local engine's, or on a panel without
    one (``palinsesto panel``) the node admission's; both are keyed by the secret key."""
    for name in ("live", "nodes"):
        owner = services.get(name)
        tokens = getattr(getattr(owner, "access", None), "watch_tokens", None)
        if isinstance(tokens, WatchTokens):
            return tokens
    return None
