"""Channel-name normalisation and confidence scores."""

from __future__ import annotations

import pytest

from palinsesto.epg.matching import name_confidence, normalise_name


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Rai 1 HD", "rai 1"),
        ("RAI-1 (FHD)", "rai 1"),
        ("Canal+ Sport 4K", "canal+ sport"),
        ("Télé Matin", "tele matin"),
        ("Sky Cinema Action & Adventure", "sky cinema action and adventure"),
    ],
)
def test_normalise_name(raw: str, normal: str) -> None:
    assert normalise_name(raw) == normal


def test_confidence_orders_candidates() -> None:
    assert name_confidence("rai 1", "rai 1") == 1.0
    assert name_confidence("canale a3", "canale a 3") == 0.97
    close = name_confidence("canale a 4 sport", "canale a 4")
    far = name_confidence("canale a 4 sport", "bbc one")
    assert 0.6 <= close < 0.9 and far < 0.6
    assert name_confidence("", "rai 1") == 0.0
