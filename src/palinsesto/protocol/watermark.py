"""Forensic watermark: which rendition each slot of a session carries, and reading a
session's code back from what a captured copy shows. Pure: no I/O.

A watermarked channel is encoded twice from one decode, with identical keyframes every
``slot_seconds``: rendition A adds ``strength`` luma levels to the "odd" blocks of a
``grid`` × ``grid`` checkerboard, rendition B to the "even" ones. Each slot (one GOP, one
HLS segment) a session receives A or B; the sequence is periodic, :data:`PERIOD` slots
long: an 11-symbol Barker preamble (to find where the period starts in a capture that
begins anywhere), then the session's :data:`CODE_BITS`-bit code, each bit Manchester-coded
(1 → A,B; 0 → B,A) so a bit reads as the difference of two neighbouring slots and the
sequence carries no net brightness.

Reading back: the capture is reduced to ``grid`` × ``grid`` block means per frame (ffmpeg
does that); :func:`block_signal` projects each frame on the checkerboard (A raises it,
B lowers it, by ``strength`` × grid² / 2); :func:`read_code` averages that per slot-long
window at every phase, folds the windows modulo the period at every rotation, and keeps
the alignment whose decoded code explains the windows best. The mark survives downscaling
and re-encoding because it lives in block averages over whole slots.
"""

from __future__ import annotations

import enum
import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

BARKER_11 = (1, 1, 1, -1, -1, -1, 1, -1, -1, 1, -1)
CODE_BITS = 16
PERIOD = len(BARKER_11) + 2 * CODE_BITS
SAMPLES_PER_SLOT = 10  # frames per slot the reader samples (ffmpeg's fps filter)


@dataclass(frozen=True, slots=True)
class MarkParams:
    """How a channel's two renditions differ (both sides must agree)."""

    slot_seconds: float = 2.0  # one keyframe interval = one HLS segment = one symbol
    strength: int = 3  # luma levels added to the marked blocks (invisible at ≤ 3)
    grid: int = 8  # blocks per side of the checkerboard

    def __post_init__(self) -> None:
        if not 0.2 <= self.slot_seconds <= 10:
            raise ValueError("watermark slot must be 0.2 to 10 seconds")
        if not 1 <= self.strength <= 16:
            raise ValueError("watermark strength must be 1 to 16 luma levels")
        if not 2 <= self.grid <= 32 or self.grid % 2:
            raise ValueError("watermark grid must be an even number from 2 to 32")


def code_for(number: int) -> int:
    """The code a play's number (a mark row's id, a cluster session id) is carried as:
    numbers wrap every 2**CODE_BITS plays."""
    return number % (1 << CODE_BITS)


@functools.lru_cache(maxsize=4096)
def symbols(code: int) -> tuple[int, ...]:
    """The periodic sequence of ``code``: +1 = rendition A, -1 = rendition B."""
    if not 0 <= code < 1 << CODE_BITS:
        raise ValueError(f"watermark code out of range: {code}")
    out = list(BARKER_11)
    for i in range(CODE_BITS - 1, -1, -1):
        out += (1, -1) if code >> i & 1 else (-1, 1)
    return tuple(out)


def wants_b(code: int, slot: int) -> bool:
    """Whether slot number ``slot`` of a session with ``code`` is served from rendition B."""
    return symbols(code)[slot % PERIOD] < 0


def block_signal(frame: bytes | Sequence[int], grid: int) -> float:
    """One frame's ``grid`` × ``grid`` block means projected on the checkerboard: the
    blocks rendition A raises count positive, the ones B raises negative."""
    total = 0
    for i, value in enumerate(frame[: grid * grid]):
        total += value if (i % grid + i // grid) % 2 else -value
    return float(total)


class Verdict(enum.StrEnum):
    found = "found"
    ambiguous = "ambiguous"
    none = "no watermark"
    too_short = "too short"


@dataclass(frozen=True, slots=True)
class Reading:
    verdict: Verdict
    code: int | None = None
    snr: float = 0.0  # mark amplitude over the residual noise, per slot
    weakest_bit: float = 0.0  # the least certain bit's margin, in noise units
    agreement: float = 0.0  # share of the period's slots on the side the code says
    slots: int = 0  # whole slots the capture held
    phase: float = 0.0  # where slots start in the capture (seconds)


# A found code needs every slot of the period on the side its code says, a mark well above
# the noise and every bit decided by at least the noise. (Measured on a capture halved and
# re-encoded at CRF 28: snr 2.5-3, agreement 1.0, weakest bit 1.6-2; on unmarked captures
# of the same pattern: snr ≤ 1.2, agreement ≤ 0.91, weakest bit ≤ 0.5.)
FOUND_SNR, FOUND_BIT, FOUND_AGREEMENT = 2.0, 1.0, 1.0
# Below this, and with slots on the wrong side, nothing like a mark is there at all.
NONE_SNR, NONE_AGREEMENT = 1.5, 0.95


def _windows(signal: Sequence[float], phase: int, per_slot: int) -> list[float]:
    """Mean signal of each whole slot starting at sample ``phase``, edges trimmed (a
    re-encoder smears the switch over a frame or two)."""
    trim = per_slot // 10
    out = []
    start = phase
    while start + per_slot <= len(signal):
        part = signal[start + trim : start + per_slot - trim]
        out.append(sum(part) / len(part))
        start += per_slot
    return out


def _fold(windows: Sequence[float], rotation: int) -> list[float]:
    """Windows averaged by their place in the period (window w is symbol rotation + w)."""
    sums, counts = [0.0] * PERIOD, [0] * PERIOD
    for w, value in enumerate(windows):
        j = (rotation + w) % PERIOD
        sums[j] += value
        counts[j] += 1
    return [s / c for s, c in zip(sums, counts, strict=True)]


def _decode(folded: Sequence[float]) -> tuple[int, float, float, float]:
    """(code, amplitude, noise, weakest bit margin) of one folded period: each bit is the
    sign of its two slots' difference; amplitude and noise are measured against the whole
    sequence of that code (preamble included)."""
    base = len(BARKER_11)
    code, margins = 0, []
    for i in range(CODE_BITS):
        first, second = folded[base + 2 * i], folded[base + 2 * i + 1]
        code = code << 1 | (first > second)
        margins.append(abs(first - second) / 2)
    expected = symbols(code)
    amplitude = sum(s * v for s, v in zip(expected, folded, strict=True)) / PERIOD
    residual = [v - amplitude * s for s, v in zip(expected, folded, strict=True)]
    noise = statistics.pstdev(residual) or 1e-9
    return code, amplitude, noise, min(margins)


def read_code(signal: Sequence[float], per_slot: int = SAMPLES_PER_SLOT) -> Reading:
    """The code in ``signal`` (one :func:`block_signal` value per sample, ``per_slot``
    samples per slot), or why none can be named."""
    slots = len(signal) // per_slot
    if slots < PERIOD + 1:  # a period at any phase, whatever the first slot's start
        return Reading(Verdict.too_short, slots=slots)
    best: tuple[float, int, float, float, int] | None = None
    for phase in range(per_slot):
        windows = _windows(signal, phase, per_slot)
        mean = sum(windows) / len(windows)
        centred = [w - mean for w in windows]
        for rotation in range(PERIOD):
            folded = _fold(centred, rotation)
            code, amplitude, noise, weakest = _decode(folded)
            snr = amplitude / noise
            if best is None or snr > best[0]:
                agree = sum(1 for s, v in zip(symbols(code), folded, strict=True) if s * v > 0)
                best = (snr, code, weakest / noise, agree / PERIOD, phase)
    assert best is not None
    snr, code, weakest, agreement, phase = best
    if snr >= FOUND_SNR and weakest >= FOUND_BIT and agreement >= FOUND_AGREEMENT:
        verdict, found = Verdict.found, code
    elif snr < NONE_SNR and agreement < NONE_AGREEMENT:
        verdict, found = Verdict.none, None
    else:
        verdict, found = Verdict.ambiguous, None
    return Reading(
        verdict,
        found,
        snr=round(snr, 2),
        weakest_bit=round(weakest, 2),
        agreement=round(agreement, 3),
        slots=slots,
        phase=phase / per_slot,
    )


def slot_of(pts: float, origin: float, slot_seconds: float) -> int:
    """The slot number of a keyframe at ``pts`` in a stream whose first keyframe was at
    ``origin`` (keyframes come every ``slot_seconds``, give or take a frame)."""
    return math.floor((pts - origin) / slot_seconds + 0.5)


__all__ = [
    "BARKER_11",
    "CODE_BITS",
    "PERIOD",
    "SAMPLES_PER_SLOT",
    "MarkParams",
    "Reading",
    "Verdict",
    "block_signal",
    "code_for",
    "read_code",
    "slot_of",
    "symbols",
    "wants_b",
]
