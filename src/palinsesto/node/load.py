"""A node's load as its heartbeat reports it: egress and CPU, measured between two beats."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


class LoadMeter:
    """Egress (Mbit/s, from a running byte counter) and this process's CPU (percent of one
    core, from ``os.times``) since the previous :meth:`sample`."""

    def __init__(
        self, bytes_sent: Callable[[], int], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._bytes_sent = bytes_sent
        self._clock = clock
        self._at = clock()
        self._bytes = bytes_sent()
        self._cpu = self._cpu_seconds()

    @staticmethod
    def _cpu_seconds() -> float:
        times = os.times()
        return times.user + times.system

    def sample(self) -> tuple[float, float]:
        """(egress Mbit/s, CPU %) since the previous sample."""
        now, sent, cpu = self._clock(), self._bytes_sent(), self._cpu_seconds()
        elapsed = max(now - self._at, 1e-6)
        egress = max(sent - self._bytes, 0) * 8 / 1e6 / elapsed
        cpu_percent = max(cpu - self._cpu, 0.0) / elapsed * 100
        self._at, self._bytes, self._cpu = now, sent, cpu
        return round(egress, 3), round(cpu_percent, 1)
