"""The transcode profiles a live channel may use: one vocabulary for the admin API, the
panel's select and the live engine (media/ffmpeg.py turns a :class:`ProfileLadder` into
encoder options).

The first wave spelled them ``h264-480p`` in the API and ``h264_480p`` in the engine, so
every transcoded channel silently played unscaled. Those old spellings are still read
(:func:`profile_name`) for rows stored before the 0002 migration rewrote them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TranscodeProfileName(enum.StrEnum):
    """What a channel's ``transcode_profile`` holds."""

    copy = "copy"
    h264_360p = "h264_360p"
    h264_480p = "h264_480p"
    h264_720p = "h264_720p"
    h264_1080p = "h264_1080p"


@dataclass(frozen=True, slots=True)
class ProfileLadder:
    """One rung of the H.264 ladder; ``height`` 0 means the source's own size."""

    label: str
    height: int = 0
    video_kbps: int = 0
    audio_kbps: int = 128


PROFILES: dict[TranscodeProfileName, ProfileLadder] = {
    TranscodeProfileName.copy: ProfileLadder("Copy (remux, no re-encoding)"),
    TranscodeProfileName.h264_360p: ProfileLadder("H.264 360p (800 kbit/s)", 360, 800, 96),
    TranscodeProfileName.h264_480p: ProfileLadder("H.264 480p (1.2 Mbit/s)", 480, 1200, 128),
    TranscodeProfileName.h264_720p: ProfileLadder("H.264 720p (2.5 Mbit/s)", 720, 2500, 128),
    TranscodeProfileName.h264_1080p: ProfileLadder("H.264 1080p (4.5 Mbit/s)", 1080, 4500, 160),
}

# Spellings the first wave's admin API stored; read as their current names.
LEGACY_NAMES: dict[str, TranscodeProfileName] = {
    "h264-360p": TranscodeProfileName.h264_360p,
    "h264-480p": TranscodeProfileName.h264_480p,
    "h264-720p": TranscodeProfileName.h264_720p,
    "h264-1080p": TranscodeProfileName.h264_1080p,
    "": TranscodeProfileName.copy,
}


def profile_name(value: str) -> TranscodeProfileName:
    """The profile ``value`` names, current or legacy spelling; ValueError if none."""
    if value in LEGACY_NAMES:
        return LEGACY_NAMES[value]
    return TranscodeProfileName(value)


def profile_labels() -> dict[str, str]:
    """Readable names by value, for the panel's select (the OpenAPI schema carries them)."""
    return {name.value: ladder.label for name, ladder in PROFILES.items()}
