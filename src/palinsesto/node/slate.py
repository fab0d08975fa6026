"""Placeholder clips ("slates") for plays that cannot be served (reference §8.2, §13.22).

XC answers an expired, banned or offline play with a short looping clip when the panel
says so, because a bare HTTP error only surfaces as a generic playback error in most
players. Each clip is a few seconds of small H.264/AAC MPEG-TS, made once by ffmpeg on
first use and then kept in RAM (a few tens of KB each).
"""

from __future__ import annotations

import asyncio
import enum
import logging

from palinsesto.node.supervisor import Supervisor

log = logging.getLogger(__name__)


class SlateKind(enum.StrEnum):
    expired = "expired"
    banned = "banned"
    disabled = "disabled"
    offline = "offline"
    suspended = "suspended"  # the whole panel (tenant) is suspended by the platform
    blackout = "blackout"  # a rights blackout or territory rule (playback/rights_gate.py)
    ended = "ended"  # another panel's channel carried here stopped being offered


# What each clip says, on which background colour.
_LOOK: dict[SlateKind, tuple[str, str]] = {
    SlateKind.expired: ("Subscription expired", "0x402020"),
    SlateKind.banned: ("Account suspended", "0x301010"),
    SlateKind.disabled: ("Account disabled", "0x303030"),
    SlateKind.offline: ("Channel offline", "0x202040"),
    SlateKind.suspended: ("Service suspended", "0x403010"),
    SlateKind.blackout: ("Not available here now", "0x0000C0"),
    SlateKind.ended: ("This channel has ended here", "0x204020"),
}


def slate_argv(ffmpeg: str, kind: SlateKind, seconds: float = 4.0, text: bool = True) -> list[str]:
    """The command that writes ``kind``'s clip as MPEG-TS to stdout."""
    caption, colour = _LOOK[kind]
    video = f"color=c={colour}:s=320x180:r=25:d={seconds:g}"
    if text:
        video += f",drawtext=text='{caption}':fontcolor=white:fontsize=22:x=(w-tw)/2:y=(h-th)/2"
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
        "-f", "lavfi", "-i", video,
        "-f", "lavfi", "-i", f"anullsrc=r=48000:cl=stereo:d={seconds:g}",
        "-map", "0:v", "-map", "1:a", "-shortest",
        "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "32k",
        "-f", "mpegts", "pipe:1",
    ]  # fmt: skip


class Slates:
    """The clips, made on first use (once each, even under concurrent requests)."""

    def __init__(self, supervisor: Supervisor, ffmpeg: str) -> None:
        self._supervisor, self.ffmpeg = supervisor, ffmpeg
        self._clips: dict[SlateKind, bytes] = {}
        self._lock = asyncio.Lock()

    async def clip(self, kind: SlateKind) -> bytes:
        """The clip of ``kind`` (empty bytes if ffmpeg cannot make one here)."""
        found = self._clips.get(kind)
        if found is not None:
            return found
        async with self._lock:
            if kind in self._clips:
                return self._clips[kind]
            data = b""
            # Without a usable font drawtext fails: the coloured clip alone still plays.
            for text in (True, False):
                argv = slate_argv(self.ffmpeg, kind, text=text)
                rc, data, message = await self._supervisor.output(argv, timeout=20)
                if rc == 0 and data:
                    break
                log.warning("slate %s (text=%s) failed: %s", kind.value, text, message)
                data = b""
            self._clips[kind] = data
            return data
