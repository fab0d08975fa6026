"""Run a command and measure its peak RSS, as a process of its own.

Linux carries a process's RSS high-water mark across fork and exec, so a child started
straight from a large process (pytest, a bench that imported the app) reports at least
its parent's size. A small Python launcher forks the command instead and reads its
``wait4`` rusage: the command's own peak.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAUNCHER = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"rc": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss}, out)
"""


def run_measured(
    argv: list[str], env: dict[str, str], timeout: float = 900
) -> tuple[int, float, float, str, str]:
    """``(returncode, seconds, peak RSS in MB, stdout, stderr)`` of ``argv``."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "rusage.json"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(report), *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        seconds = time.monotonic() - started
        figures = json.loads(report.read_text())
    return figures["rc"], seconds, figures["maxrss_kb"] / 1024, done.stdout, done.stderr
