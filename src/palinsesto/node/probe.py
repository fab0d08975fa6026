"""Probe a VOD file: ffmpeg's input report, run through the one supervisor.

:func:`probe_file` returns :class:`MediaInfo` or raises :class:`ProbeFailed` with
ffmpeg's reason; the file's path never appears in that reason (it reaches admin
screens, and maybe more), only its name.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from palinsesto.node.ffmpeg import file_info_argv
from palinsesto.node.probe_report import MediaInfo, ProbeFailed, parse_input_report
from palinsesto.node.supervisor import Supervisor

# The input report of a file with many tracks and tags runs to a few hundred lines.
REPORT_LINES = 2000


async def probe_file(
    supervisor: Supervisor, ffmpeg: str, path: Path, timeout: float = 20.0
) -> MediaInfo:
    child = await supervisor.spawn(file_info_argv(ffmpeg, str(path)), log_lines=REPORT_LINES)
    try:
        await asyncio.wait_for(child.wait(), timeout)
    except TimeoutError:
        await child.stop(grace=0.5)
        raise ProbeFailed(f"ffmpeg did not describe the file within {timeout:g} s") from None
    lines = [line.replace(str(path), path.name) for line in child.log_tail]
    try:
        return parse_input_report(lines)
    except ProbeFailed as exc:
        raise ProbeFailed(exc.reason.replace(str(path), path.name)) from None
