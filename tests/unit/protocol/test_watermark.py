"""The watermark code: sequences, and reading a code back from block signals."""

from __future__ import annotations

import math
import random

import pytest

from palinsesto.protocol.watermark import (
    BARKER_11,
    CODE_BITS,
    PERIOD,
    SAMPLES_PER_SLOT,
    MarkParams,
    Verdict,
    block_signal,
    read_code,
    slot_of,
    symbols,
    wants_b,
)


def _capture(code: int, slots: int, start_slot: int, phase: int, amplitude: float,
             noise: float, seed: int) -> list[float]:  # fmt: skip
    """What the reader sees of a session: content (a slow swing plus noise) and ±amplitude
    per slot, starting ``phase`` samples into slot ``start_slot``."""
    rng = random.Random(seed)
    out = []
    for n in range(slots * SAMPLES_PER_SLOT):
        sample = phase + n
        slot = start_slot + sample // SAMPLES_PER_SLOT
        content = 10 * math.sin(n / 7) + rng.gauss(0, noise)
        out.append(content + amplitude * symbols(code)[slot % PERIOD])
    return out


def test_each_code_has_its_own_balanced_sequence() -> None:
    assert PERIOD == len(BARKER_11) + 2 * CODE_BITS
    assert symbols(0) != symbols(1)
    assert symbols(0xBEEF)[: len(BARKER_11)] == BARKER_11
    assert sum(symbols(0xBEEF)[len(BARKER_11) :]) == 0  # Manchester: no net brightness
    assert wants_b(5, len(BARKER_11) - 1) and not wants_b(5, PERIOD)  # periodic
    with pytest.raises(ValueError):
        symbols(1 << CODE_BITS)


@pytest.mark.parametrize(("code", "start", "phase"), [(1, 0, 0), (0xA5C3, 17, 4), (65535, 40, 9)])
def test_a_marked_capture_reads_back_wherever_it_starts(code: int, start: int, phase: int) -> None:
    reading = read_code(_capture(code, PERIOD + 4, start, phase, 40, 30, code))
    assert (reading.verdict, reading.code) == (Verdict.found, code)
    assert reading.agreement == 1.0


def test_no_mark_reads_as_no_watermark_and_a_weak_one_is_not_named() -> None:
    assert read_code(_capture(7, PERIOD + 4, 0, 0, 0, 30, 1)).verdict is Verdict.none
    weak = read_code(_capture(7, PERIOD + 4, 0, 0, 8, 60, 2))
    assert weak.verdict is not Verdict.found and weak.code is None
    assert read_code(_capture(7, PERIOD - 5, 0, 0, 40, 0, 3)).verdict is Verdict.too_short


def test_block_signal_and_slots() -> None:
    grid = 2  # blocks 1 and 2 are A's (odd), 0 and 3 B's
    assert block_signal(bytes([10, 13, 13, 10]), grid) == 6
    assert slot_of(100.0 + 2 * 2.0 + 0.03, 100.0, 2.0) == 2
    with pytest.raises(ValueError):
        MarkParams(slot_seconds=0.1)
    with pytest.raises(ValueError):
        MarkParams(grid=7)
