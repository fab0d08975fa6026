"""Signed, short-lived tokens in HLS segment URLs, bound to line, channel and session.

Reference §8.4: XC signs each segment URL (``/hls/U/P/ID/SEGTOKEN/...``) and XUI encrypts
user/stream/session into ``/hls/TOKEN``; both answer 403 on a bad token. Ours is
``base64url(line, channel, session, expiry) + HMAC-SHA256`` (truncated to 128 bits): the
check is one HMAC, no database and no shared state, so a node can verify it alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from dataclasses import dataclass

_BODY = struct.Struct(">QQQI")
_MAC_BYTES = 16


class TokenRefused(ValueError):
    """Malformed, tampered or expired: the caller answers 403."""


@dataclass(frozen=True, slots=True)
class SegmentGrant:
    line_id: int
    channel_id: int
    session_id: int
    expires: int


class SegmentTokens:
    def __init__(self, secret: str, ttl: int, domain: str = "hls") -> None:
        # Each domain (live segments, a movie's segments) has its own key: a token made
        # for one is refused by the other, whatever ids it carries.
        label = b"palinsesto-" + domain.encode() + b"\x00"
        self._key = hashlib.sha256(label + secret.encode()).digest()
        self.ttl = ttl

    def issue(
        self, line_id: int, channel_id: int, session_id: int, now: float, ttl: int | None = None
    ) -> str:
        """A token valid ``ttl`` seconds (the instance's own by default)."""
        lifetime = self.ttl if ttl is None else ttl
        body = _BODY.pack(line_id, channel_id, session_id, int(now) + lifetime)
        mac = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(body + mac).rstrip(b"=").decode()

    def verify(self, token: str, now: float) -> SegmentGrant:
        """The grant in ``token``, if its signature holds and it has not expired."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            raise TokenRefused("malformed token") from None
        if len(raw) != _BODY.size + _MAC_BYTES:
            raise TokenRefused("malformed token")
        body, mac = raw[: _BODY.size], raw[_BODY.size :]
        expected = hmac.new(self._key, body, hashlib.sha256).digest()[:_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            raise TokenRefused("bad signature")
        grant = SegmentGrant(*_BODY.unpack(body))
        if grant.expires < now:
            raise TokenRefused("expired")
        return grant
