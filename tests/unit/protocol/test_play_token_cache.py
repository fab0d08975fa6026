"""Play tokens verified once and then kept: what must still be checked on every use."""

from __future__ import annotations

import pytest

from palinsesto.protocol.play_tokens import PlayKind, PlayTokens, SigningKey, TokenRefused

OLD, NEW = SigningKey(1, b"o" * 32), SigningKey(2, b"n" * 32)


def _token(tokens: PlayTokens, expires: int, client_ip: str | None = "192.0.2.1") -> str:
    return tokens.issue(
        tenant_id=1, line_id=2, channel_id=3, session_id=4, kind=PlayKind.hls,
        expires=expires, client_ip=client_ip,
    )  # fmt: skip


def test_a_kept_token_is_still_refused_once_expired_from_another_address_or_key() -> None:
    tokens = PlayTokens([OLD])
    token = _token(tokens, expires=1_000)
    assert tokens.verify(token, 900, "192.0.2.1").session_id == 4
    assert tokens.verify(token, 900, "192.0.2.1").session_id == 4  # the kept grant
    with pytest.raises(TokenRefused, match="expired"):
        tokens.verify(token, 1_001, "192.0.2.1")
    assert tokens.verify(token, 1_001, "192.0.2.1", allow_expired=True).expires == 1_000
    with pytest.raises(TokenRefused, match="another address"):
        tokens.verify(token, 900, "198.51.100.7")
    tokens.replace_keys([NEW])  # the old key retired: its tokens fail at once
    with pytest.raises(TokenRefused, match="unknown key"):
        tokens.verify(token, 900, "192.0.2.1")


def test_a_tampered_token_is_refused_even_next_to_a_kept_one() -> None:
    tokens = PlayTokens([OLD])
    token = _token(tokens, expires=1_000, client_ip=None)
    tokens.verify(token, 900)
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with pytest.raises(TokenRefused):
        tokens.verify(tampered, 900)


def test_the_same_key_ring_again_keeps_its_generation_and_a_changed_one_does_not() -> None:
    tokens = PlayTokens([OLD])
    token = _token(tokens, expires=1_000)
    tokens.verify(token, 900, "192.0.2.1")
    generation = tokens.generation
    tokens.replace_keys([SigningKey(1, b"o" * 32)])  # every heartbeat reply repeats it
    assert tokens.generation == generation
    assert tokens.verify(token, 900, "192.0.2.1").session_id == 4
    tokens.replace_keys([OLD, NEW])  # a key added
    assert tokens.generation == generation + 1
    tokens.replace_keys([SigningKey(1, b"x" * 32)])  # the same id, another secret
    assert tokens.generation == generation + 2
    with pytest.raises(TokenRefused, match="bad signature"):
        tokens.verify(token, 900, "192.0.2.1")
