"""How many of each partner's viewers watch a syndicated channel, measured on the node.

Figures are per syndication (one partner tenant, one channel): viewers now, the peak, and
viewer-seconds. Nothing about a viewer (line, address, player) leaves the partner's
tenant: the owner sees only these counts (catalog/syndication.py stores them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class SyndicationCounts(Protocol):
    def syndication_counts(self) -> dict[int, int]: ...


@dataclass(slots=True)
class _Pending:
    peak: int = 0
    seconds: float = 0.0


class SyndicationAudience:
    """Integrates the session registry's per-syndication counts over time (called each
    second by the engine's reaper); :meth:`take` hands the figures to storage."""

    def __init__(self, sessions: SyndicationCounts) -> None:
        self._sessions = sessions
        self._pending: dict[int, _Pending] = {}
        self._now: dict[int, int] = {}
        self._last: float | None = None

    def tick(self, now: float) -> None:
        counts = self._sessions.syndication_counts()
        elapsed = 0.0 if self._last is None else max(0.0, now - self._last)
        self._last = now
        self.integrate(elapsed, self._now, counts)

    def integrate(self, seconds: float, before: dict[int, int], counts: dict[int, int]) -> None:
        """``before`` watched for ``seconds``; ``counts`` watch now (a cluster's tick)."""
        # Viewers counted at the last tick watched the whole interval since (to a second).
        for syndication_id, viewers in before.items():
            self._pending.setdefault(syndication_id, _Pending()).seconds += viewers * seconds
        for syndication_id, viewers in counts.items():
            pending = self._pending.setdefault(syndication_id, _Pending())
            pending.peak = max(pending.peak, viewers)
        self._now = counts

    def viewers_now(self, syndication_id: int) -> int:
        return self._sessions.syndication_counts().get(syndication_id, 0)

    def unrecorded(self, syndication_id: int) -> tuple[int, int]:
        """(peak, whole seconds) measured since the figures were last taken."""
        pending = self._pending.get(syndication_id)
        return (pending.peak, int(pending.seconds)) if pending is not None else (0, 0)

    def take(self) -> dict[int, tuple[int, int]]:
        """The figures to store (peak, whole seconds); fractions stay for next time."""
        taken: dict[int, tuple[int, int]] = {}
        for syndication_id, pending in list(self._pending.items()):
            whole = int(pending.seconds)
            if whole or pending.peak:
                taken[syndication_id] = (pending.peak, whole)
            pending.seconds -= whole
            pending.peak = self._now.get(syndication_id, 0)
            if not pending.seconds and not pending.peak:
                del self._pending[syndication_id]
        return taken

    def give_back(self, figures: dict[int, tuple[int, int]]) -> None:
        """Figures that could not be stored, kept for the next attempt."""
        for syndication_id, (peak, seconds) in figures.items():
            pending = self._pending.setdefault(syndication_id, _Pending())
            pending.peak = max(pending.peak, peak)
            pending.seconds += seconds
