"""Signed play tokens: the panel's admission, carried to a node in a 302.

The panel authenticates a line, reserves a session slot and picks a node; the player then
meets the node with a token saying what was admitted. The node checks it with one HMAC and
the keys the panel handed it: no database, no call back to the panel.

Wire form: ``base64url(body + mac)`` where ``body`` is a fixed struct (version, key id,
tenant, line, channel, session, kind, expiry, client-address digest) and ``mac`` is
HMAC-SHA256 over it, truncated to 128 bits. A token may be bound to a *subject* that
travels beside it in the URL (a VOD file's path, a catch-up window): the MAC then covers
``body + subject``, so the node serves only what the panel named, and a token bound to no
subject is signed exactly as before. Keys rotate: each has an id, the panel signs
with the newest and a node accepts any key it was given that has not been retired, so a
rotation never cuts a player whose token was signed a second before.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import struct
from dataclasses import dataclass

VERSION = 1
# version, key id, tenant, line, channel, session, kind, expires (unix s), ip digest
_BODY = struct.Struct(">BHQQQQBQ8s")
_MAC_BYTES = 16
_TOKEN_BYTES = _BODY.size + _MAC_BYTES
NO_IP = bytes(8)
# Verified tokens kept per PlayTokens (about 300 bytes each): more than a node's viewers.
VERIFIED_KEPT = 50_000


class PlayKind(enum.IntEnum):
    """What the token opens on the node."""

    ts = 1  # a live channel as one MPEG-TS response
    hls = 2  # a live channel's HLS playlist and its segments
    relay = 3  # another node pulling the channel as an edge (no viewer, no slot)
    vod = 4  # a movie's or episode's file (channel = the item's id; subject = its path)
    archive = 5  # a past window of a channel's archive (subject = the window)
    vod_hls = 6  # a movie's or episode's file as a VOD HLS playlist and its segments
    vod_proxy = 7  # a remote movie relayed by the node (subject = its source URL)


class TokenRefused(ValueError):
    """Malformed, signed with an unknown key, tampered, expired or for another address:
    the node answers 403 and the reason (never which part of the signature failed)."""


@dataclass(frozen=True, slots=True)
class PlayGrant:
    key_id: int
    tenant_id: int
    line_id: int
    channel_id: int
    session_id: int
    kind: PlayKind
    expires: int
    ip_digest: bytes = NO_IP

    @property
    def bound_to_ip(self) -> bool:
        return self.ip_digest != NO_IP


@dataclass(frozen=True, slots=True)
class SigningKey:
    key_id: int
    secret: bytes  # 32 random bytes

    def to_json(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "secret": base64.urlsafe_b64encode(self.secret).decode(),
        }

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> SigningKey:
        key_id, secret = raw.get("key_id"), raw.get("secret")
        if not isinstance(key_id, int) or not isinstance(secret, str):
            raise ValueError("signing key: expected key_id (int) and secret (str)")
        decoded = base64.urlsafe_b64decode(secret)
        if len(decoded) < 16 or not 0 < key_id < 65536:
            raise ValueError("signing key: too short a secret or a key id out of range")
        return cls(key_id, decoded)


def window_subject(start: int, minutes: int) -> bytes:
    """What an ``archive`` token is signed over: its window, as its URL spells it."""
    return f"{start}/{minutes}".encode()


def source_tag(url: str) -> str:
    """A relayed movie's source, as its node URL names it: 12 hex digits of its SHA-256.
    The URL itself never reaches the viewer; the tag lets a node tell, with a token it has
    verified, whether the source it holds is the one the panel signed for."""
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def relayed_subject(kind: str, tag: str) -> bytes:
    """What a ``vod_proxy`` token is signed over: the item's kind and its source's tag,
    as its URL spells them, so the node verifies it before asking its panel anything."""
    return f"{kind}/{tag}".encode()


def ip_digest(secret: bytes, address: str) -> bytes:
    """The 8-byte stand-in for a client address inside a token (the address itself never
    travels in URLs)."""
    return hashlib.blake2b(address.encode(), key=secret[:32], digest_size=8).digest()


class PlayTokens:
    """Signs with the newest key and verifies with any key of the ring."""

    def __init__(self, keys: list[SigningKey]) -> None:
        self._keys: dict[int, bytes] = {}
        self._signer: tuple[SigningKey, hmac.HMAC] | None = None
        # (token, client address) -> its grant, once verified: an HLS viewer presents the
        # same token every few seconds for hours, and the MAC and address digest were the
        # largest cost of a node's playlist reload. Only the expiry is checked again.
        self._verified: dict[tuple[str, str | None, bytes], PlayGrant] = {}
        # Changes whenever the ring does: what callers keep from a verification is good
        # while it stays the same.
        self.generation = 0
        self.replace_keys(keys)

    def replace_keys(self, keys: list[SigningKey]) -> None:
        """Adopt a new key ring (the panel's current keys, newest last). The same ring
        again (every heartbeat reply carries it) keeps what was verified."""
        ring = {key.key_id: key.secret for key in keys}
        # The signing key with its HMAC, the key already absorbed: a token copies it (the
        # key schedule, two hash blocks, is not paid per token). One attribute, so that a
        # rotation in another thread never pairs one key's id with another's MAC.
        self._signer = (keys[-1], hmac.new(keys[-1].secret, digestmod="sha256")) if keys else None
        if ring != self._keys or self.generation == 0:
            self._keys = ring
            self._verified = {}  # a retired key's tokens must fail from now on
            self.generation += 1

    @property
    def key_ids(self) -> list[int]:
        return list(self._keys)

    def issue(
        self,
        *,
        tenant_id: int,
        line_id: int,
        channel_id: int,
        session_id: int,
        kind: PlayKind,
        expires: int,
        client_ip: str | None = None,
        subject: bytes = b"",
    ) -> str:
        current = self._signer
        if current is None:
            raise TokenRefused("no signing key")
        key, signer = current
        bound = ip_digest(key.secret, client_ip) if client_ip else NO_IP
        body = _BODY.pack(
            VERSION, key.key_id, tenant_id, line_id, channel_id, session_id, kind, expires, bound
        )
        signer = signer.copy()
        signer.update(body + subject)
        mac = signer.digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(body + mac).rstrip(b"=").decode()

    def verify(
        self,
        token: str,
        now: float,
        client_ip: str | None = None,
        *,
        allow_expired: bool = False,
        subject: bytes = b"",
    ) -> PlayGrant:
        """The grant in ``token`` if its signature holds (over ``subject`` too), it has not
        expired (unless ``allow_expired``: the caller knows the session is alive) and, when
        it is bound to an address, ``client_ip`` is that address."""
        known = self._verified.get((token, client_ip, subject))
        if known is not None:
            if known.expires < now and not allow_expired:
                raise TokenRefused("expired")
            return known
        if len(token) > 2 * _TOKEN_BYTES:
            raise TokenRefused("malformed token")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            raise TokenRefused("malformed token") from None
        if len(raw) != _TOKEN_BYTES:
            raise TokenRefused("malformed token")
        body, mac = raw[: _BODY.size], raw[_BODY.size :]
        version, key_id, *fields, kind, expires, bound = _BODY.unpack(body)
        secret = self._keys.get(key_id)
        if version != VERSION or secret is None:
            raise TokenRefused("unknown key")
        expected = hmac.new(secret, body + subject, hashlib.sha256).digest()[:_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            raise TokenRefused("bad signature")
        try:
            play_kind = PlayKind(kind)
        except ValueError:
            raise TokenRefused("malformed token") from None
        if expires < now and not allow_expired:
            raise TokenRefused("expired")
        if bound != NO_IP and (client_ip is None or ip_digest(secret, client_ip) != bound):
            raise TokenRefused("token is bound to another address")
        tenant_id, line_id, channel_id, session_id = fields
        grant = PlayGrant(
            key_id, tenant_id, line_id, channel_id, session_id, play_kind, expires, bound
        )
        if len(self._verified) >= VERIFIED_KEPT:
            self._verified.clear()  # simpler than an LRU: a cleared entry costs one MAC
        self._verified[(token, client_ip, subject)] = grant
        return grant
