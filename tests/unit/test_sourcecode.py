"""Linting is a test: ruff over the whole tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ruff_is_clean() -> None:
    trees = [d for d in ("src", "tests", "bench", "tools") if (ROOT / d).is_dir()]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *trees],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
