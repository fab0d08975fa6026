"""A play token bound to a subject (a VOD file's path, a catch-up window) opens that
subject only; a token bound to none is signed as tokens always were."""

from __future__ import annotations

import secrets
import time

import pytest

from palinsesto.protocol.play_tokens import PlayKind, PlayTokens, SigningKey, TokenRefused


def _tokens() -> PlayTokens:
    return PlayTokens([SigningKey(3, secrets.token_bytes(32))])


def _issue(tokens: PlayTokens, subject: bytes = b"") -> str:
    return tokens.issue(
        tenant_id=1, line_id=2, channel_id=3, session_id=4, kind=PlayKind.vod,
        expires=int(time.time()) + 60, subject=subject,
    )  # fmt: skip


def test_a_bound_token_opens_its_subject_and_nothing_else() -> None:
    tokens = _tokens()
    token = _issue(tokens, b"films/feature.mp4")
    now = time.time()
    assert tokens.verify(token, now, subject=b"films/feature.mp4").kind is PlayKind.vod
    for other in (b"films/other.mp4", b"", b"films/feature.mp4\x00"):
        with pytest.raises(TokenRefused, match="bad signature"):
            tokens.verify(token, now, subject=other)
    # A fresh ring (no cache) refuses the wrong subject too.
    fresh = PlayTokens([SigningKey(3, tokens._keys[3])])
    with pytest.raises(TokenRefused):
        fresh.verify(token, now, subject=b"films/other.mp4")
    assert fresh.verify(token, now, subject=b"films/feature.mp4").session_id == 4


def test_a_token_without_subject_needs_none() -> None:
    tokens = _tokens()
    token = _issue(tokens)
    assert tokens.verify(token, time.time()).channel_id == 3
    with pytest.raises(TokenRefused):
        tokens.verify(token, time.time(), subject=b"x")
