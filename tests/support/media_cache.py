"""Sample media made by ffmpeg once per test run, shared by every pytest-xdist worker.

Encoding the same few seconds of test pattern again for every test (and again in every
worker) costs CPU the live tests need for real-time work. A sample is made once, under a
lock, into a folder of this run's temporary directory (the controller's, which every worker
sees), and each caller gets its own copy at the path it asked for (a copy, not a link: a
test may rewrite or truncate its file).

Without a run folder (``set_root`` not called: a bench or a script) samples are made in
place, as before.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

_root: Path | None = None


def set_root(folder: Path) -> None:
    """Where this run keeps its samples (called once per process by the test session)."""
    global _root
    folder.mkdir(parents=True, exist_ok=True)
    _root = folder


def cached(path: Path, key: str, make: Callable[[Path], object]) -> Path:
    """Put at ``path`` the file ``make(target)`` writes for ``key``, making it once per run.

    ``key`` must name everything that shapes the file (its argv is a good key)."""
    if _root is None:
        make(path)
        return path
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    stored = _root / f"{digest}{path.suffix}"
    if not stored.exists():
        with open(_root / f"{digest}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be making it right now
            if not stored.exists():
                partial = _root / f"{digest}.partial{path.suffix}"
                make(partial)
                os.replace(partial, stored)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(stored, path)
    return path
