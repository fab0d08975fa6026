"""The machine's CPU, memory and network from /proc: the parsers on this machine's files
and on a known text, and the figures as the change between two readings."""

from __future__ import annotations

from pathlib import Path

from palinsesto.panel.admin.host_stats import HostStats, parse_cpu, parse_memory, parse_net

STAT = "cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\n"
MEMINFO = "MemTotal:        2000 kB\nMemFree:          300 kB\nMemAvailable:     500 kB\n"
# /proc/net/dev's layout, columns squeezed: received bytes first, sent bytes ninth.
NET = (
    "Inter-|   Receive |  Transmit\n"
    " face |bytes packets errs drop fifo frame compressed multicast|bytes packets\n"
    "    lo: 9999 10 0 0 0 0 0 0 9999 10 0 0 0 0 0 0\n"
    "  eth0: 1000 10 0 0 0 0 0 0 4000 20 0 0 0 0 0 0\n"
    "  eth1:  500  5 0 0 0 0 0 0  100  2 0 0 0 0 0 0\n"
)


def test_parsers_read_the_kernels_text() -> None:
    cpu = parse_cpu(STAT)
    assert (cpu.busy, cpu.total) == (160, 980)  # idle and iowait are not busy
    assert parse_memory(MEMINFO) == (2000 * 1024, 1500 * 1024)
    net = parse_net(NET)
    assert (net.received, net.sent) == (1500, 4100)  # loopback left out


def test_figures_of_this_machine_are_changes_between_readings() -> None:
    stats = HostStats()
    first = stats.figures()
    assert 0.0 <= first.cpu_percent <= 100.0 and first.cpu_count >= 1
    assert 0 < first.memory_used_bytes < first.memory_total_bytes
    total, _ = parse_memory(Path("/proc/meminfo").read_text())
    assert first.memory_total_bytes == total
    assert first.network_in_bps >= 0 and first.network_out_bps >= 0
    assert 0.2 <= first.interval_seconds < 5
    # Busy the CPU for a while: the next figure is measured since the first call.
    n = 0
    for i in range(3_000_000):
        n += i * i
    second = stats.figures()
    assert n and second.cpu_percent > 0.0
    assert second.interval_seconds >= 0.0
