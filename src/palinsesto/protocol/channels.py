"""A channel as a node runs it: the assignment the panel hands out (the local node builds
the same value from the database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    id: int
    tenant_id: int
    name: str
    sources: tuple[dict[str, Any], ...]
    on_demand: bool
    transcode_profile: str
    enabled: bool
    stream_key: str | None
    # May be watched from its share link without a line (admin/api/routes/watch.py). Not
    # compared: toggling it must not restart a running channel.
    public_watch: bool = field(default=False, compare=False)
    archive_days: int = 0  # > 0: recorded for catch-up, and therefore always on
    # A rights record asks for the forensic watermark (two marked renditions, A/B per viewer).
    watermark: bool = False
