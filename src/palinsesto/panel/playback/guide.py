"""The seam between the stored programme guide (EPG) and the surfaces that serve it.

``player_api.php`` (``get_short_epg``, ``get_simple_data_table``), ``panel_api.php`` and
``xmltv.php`` ask a :class:`Guide` for programmes. The EPG package provides the real one
(and puts it in ``ctx.services["guide"]``); until then :class:`EmptyGuide` answers with no
programmes, which the reference allows (§4.8: ``{"epg_listings": []}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from palinsesto.panel.playback.programme_details import ProgrammeDetails


@dataclass(frozen=True, slots=True)
class ProgrammeRow:
    """One programme of one guide channel, times in unix seconds (UTC)."""

    id: int
    epg_source_id: int
    channel_id: str  # the XMLTV channel id (= a channel's epg_channel_id)
    start: int
    stop: int
    title: str
    description: str
    lang: str = ""
    details: ProgrammeDetails | None = None


class Guide(Protocol):
    def programmes(
        self, tenant_id: int, channel_id: str, start: int, stop: int
    ) -> list[ProgrammeRow]:
        """Programmes of ``channel_id`` overlapping [start, stop), ordered by start."""
        ...

    def upcoming(self, tenant_id: int, channel_id: str, now: int, limit: int) -> list[ProgrammeRow]:
        """The programme running at ``now`` and the next ones, at most ``limit``."""
        ...

    def stream(
        self, tenant_id: int, channel_ids: Iterable[str], start: int, stop: int
    ) -> Iterator[ProgrammeRow]:
        """Programmes of many channels for ``xmltv.php``: channel by channel, by start,
        without loading the whole guide in memory."""
        ...

    def version(self, tenant_id: int) -> int:
        """Changes whenever the tenant's stored guide changes (for cache keys)."""
        ...


class EmptyGuide:
    """No guide stored: every channel has no programmes."""

    def programmes(
        self, tenant_id: int, channel_id: str, start: int, stop: int
    ) -> list[ProgrammeRow]:
        return []

    def upcoming(self, tenant_id: int, channel_id: str, now: int, limit: int) -> list[ProgrammeRow]:
        return []

    def stream(
        self, tenant_id: int, channel_ids: Iterable[str], start: int, stop: int
    ) -> Iterator[ProgrammeRow]:
        return iter(())

    def version(self, tenant_id: int) -> int:
        return 0
