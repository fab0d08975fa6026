"""Admin passwords (argon2id), signed bearer tokens and API keys."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Each hash takes tens of milliseconds of a core and 64 MiB of memory. A storm of sign-ins
# (from many addresses, past the per-address throttle) queues here instead of taking every
# core and a few GiB, so the rest of the panel keeps answering while it lasts.
_hash_slots = threading.BoundedSemaphore(os.cpu_count() or 1)
TOKEN_ALGORITHM = "HS256"
TOKEN_AUDIENCE = "palinsesto-admin"
API_KEY_PREFIX = "pal_"


def hash_password(password: str) -> str:
    with _hash_slots:
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        with _hash_slots:
            return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password(length: int = 20) -> str:
    return secrets.token_urlsafe(length)[:length]


class InvalidToken(Exception):
    """The bearer token is malformed, tampered with or expired."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    expires_at: datetime
    password_stamp: str


def password_stamp(secret: str, password_hash: str) -> str:
    """A short keyed digest of the stored password hash, carried in each bearer token.

    Every new password gets a new argon2 salt, so a change or a reset changes the stamp and
    every token issued before it stops matching (revoked) without a token table. Keyed, so a
    token reveals nothing about the hash.
    """
    digest = hmac.new(secret.encode(), password_hash.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def stamp_matches(claims: TokenClaims, secret: str, password_hash: str) -> bool:
    return hmac.compare_digest(claims.password_stamp, password_stamp(secret, password_hash))


def issue_token(
    secret: str,
    user_id: int,
    ttl_seconds: int,
    *,
    password_hash: str,
    now: datetime | None = None,
) -> str:
    """A bearer token for ``user_id``, valid ``ttl_seconds`` or until the password changes."""
    now = now or datetime.now(UTC)
    payload = {
        "sub": str(user_id),
        "pwd": password_stamp(secret, password_hash),
        "aud": TOKEN_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=TOKEN_ALGORITHM)


def read_token(secret: str, token: str) -> TokenClaims:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            audience=TOKEN_AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
        )
        return TokenClaims(
            user_id=int(payload["sub"]),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
            password_stamp=str(payload["pwd"]),
        )
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise InvalidToken(str(exc)) from exc


def new_api_key() -> tuple[str, str, str]:
    """A fresh API key: (the key to show once, its display prefix, its SHA-256 to store)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:12], hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
