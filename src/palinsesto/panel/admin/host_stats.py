"""CPU, memory and network of the machine the panel runs on, read from Linux's /proc.

No dependency: /proc/stat, /proc/meminfo and /proc/net/dev are plain text. CPU use and
network rates are differences between two readings, so :class:`HostStats` keeps the last
reading and answers with the change since then (the dashboard asks every few seconds); the
first call takes a second reading a moment after the first. The parsers take the files'
text, so any reading (or a test's) goes through the same code.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
FIRST_GAP = 0.25  # seconds between the two readings of a first call


@dataclass(frozen=True, slots=True)
class CpuTimes:
    busy: int  # clock ticks spent on anything but idle and iowait
    total: int


@dataclass(frozen=True, slots=True)
class NetBytes:
    received: int
    sent: int


@dataclass(frozen=True, slots=True)
class Reading:
    at: float  # time.monotonic()
    cpu: CpuTimes
    net: NetBytes


@dataclass(frozen=True, slots=True)
class HostFigures:
    cpu_percent: float
    cpu_count: int
    load_1m: float
    memory_total_bytes: int
    memory_used_bytes: int  # total less what the kernel could hand out now (MemAvailable)
    network_in_bps: float  # bits per second, every interface but loopback
    network_out_bps: float
    interval_seconds: float  # what the rates and CPU use are averaged over


def parse_cpu(stat: str) -> CpuTimes:
    """The aggregate ``cpu`` line of /proc/stat: user nice system idle iowait irq softirq
    steal (guest time is already counted in user)."""
    for line in stat.splitlines():
        if line.startswith("cpu "):
            ticks = [int(x) for x in line.split()[1:9]]
            idle = ticks[3] + ticks[4]
            return CpuTimes(busy=sum(ticks) - idle, total=sum(ticks))
    raise ValueError("no cpu line in /proc/stat")


def parse_memory(meminfo: str) -> tuple[int, int]:
    """(total, used) bytes: used is MemTotal - MemAvailable."""
    fields: dict[str, int] = {}
    for line in meminfo.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            fields[name] = int(parts[0]) * 1024  # kB
    total = fields["MemTotal"]
    available = fields.get("MemAvailable", fields.get("MemFree", 0))
    return total, max(0, total - available)


def parse_net(dev: str) -> NetBytes:
    """Bytes received and sent by every interface but loopback (/proc/net/dev)."""
    received = sent = 0
    for line in dev.splitlines()[2:]:
        name, _, rest = line.partition(":")
        if name.strip() == "lo" or not rest:
            continue
        cols = rest.split()
        received += int(cols[0])
        sent += int(cols[8])
    return NetBytes(received, sent)


def _read(root: Path) -> Reading:
    return Reading(
        at=time.monotonic(),
        cpu=parse_cpu((root / "stat").read_text()),
        net=parse_net((root / "net" / "dev").read_text()),
    )


class HostStats:
    """The machine's figures, as changes since the previous call (thread-safe)."""

    def __init__(self, root: Path = PROC) -> None:
        self.root = root
        self._last: Reading | None = None
        self._lock = threading.Lock()

    def figures(self) -> HostFigures:
        with self._lock:
            before = self._last
            if before is None:
                before = _read(self.root)
                time.sleep(FIRST_GAP)
            now = _read(self.root)
            self._last = now
        total, used = parse_memory((self.root / "meminfo").read_text())
        elapsed = max(now.at - before.at, 1e-6)
        ticks = now.cpu.total - before.cpu.total
        busy = now.cpu.busy - before.cpu.busy
        return HostFigures(
            cpu_percent=round(100.0 * busy / ticks, 1) if ticks > 0 else 0.0,
            cpu_count=os.cpu_count() or 1,
            load_1m=round(_load_1m(self.root), 2),
            memory_total_bytes=total,
            memory_used_bytes=used,
            network_in_bps=round(max(0, now.net.received - before.net.received) * 8 / elapsed, 1),
            network_out_bps=round(max(0, now.net.sent - before.net.sent) * 8 / elapsed, 1),
            interval_seconds=round(elapsed, 2),
        )


def _load_1m(root: Path) -> float:
    try:
        return float((root / "loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
