"""One segment of a movie played as HLS, cut by ffmpeg from the file (stream copy, no
re-encoding): what the all-in-one's ``/vodhls/`` and a node's ``/vodhls/`` both answer
(panel/local_node/vod_hls_delivery.py, node/vod_hls_plays.py)."""

from __future__ import annotations

from palinsesto.node.supervisor import Supervisor
from palinsesto.node.vod_hls import segment_argv
from palinsesto.node.vod_hls_index import HlsFile

SEGMENT_TIMEOUT = 60.0  # ffmpeg cutting one segment (it reads ~10 s of the file)


class SegmentFailed(RuntimeError):
    """ffmpeg failed or wrote nothing; the message names the file by its name only."""


async def cut_segment(supervisor: Supervisor, ffmpeg: str, found: HlsFile, seq: int) -> bytes:
    """Segment ``seq`` (an index into ``found.segments``) as MPEG-TS bytes."""
    argv = segment_argv(ffmpeg, str(found.path), found.segments[seq], list(found.streams))
    rc, data, message = await supervisor.output(argv, SEGMENT_TIMEOUT)
    if rc != 0 or not data:
        raise SegmentFailed(message.replace(str(found.path), found.path.name))
    return data
