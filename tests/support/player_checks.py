"""Checks for the viewer-surface tests: a stand-in guide and an independent M3U reader."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from palinsesto.panel.playback.guide import ProgrammeRow


class ListGuide:
    """A guide holding a fixed list of programmes, standing in for the EPG package
    behind the same :class:`~palinsesto.panel.playback.guide.Guide` protocol."""

    def __init__(self, rows: list[ProgrammeRow]) -> None:
        self.rows = sorted(rows, key=lambda r: (r.channel_id, r.start))

    def programmes(self, tenant_id: int, channel_id: str, start: int, stop: int) -> list:
        return [
            r for r in self.rows if r.channel_id == channel_id and r.stop > start and r.start < stop
        ]

    def upcoming(self, tenant_id: int, channel_id: str, now: int, limit: int) -> list:
        return [r for r in self.rows if r.channel_id == channel_id and r.stop > now][:limit]

    def stream(
        self, tenant_id: int, channel_ids: Iterable[str], start: int, stop: int
    ) -> Iterator[ProgrammeRow]:
        for channel_id in channel_ids:
            yield from self.programmes(tenant_id, channel_id, start, stop)

    def version(self, tenant_id: int) -> int:
        return 1


EXTINF = re.compile(r"^#EXTINF:(-?\d+(?:\.\d+)?)((?:\s+[a-z-]+=\"[^\"]*\")*),(.*)$")
ATTR = re.compile(r"([a-z-]+)=\"([^\"]*)\"")


def m3u_entries(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """An independent line-level M3U reader: header attributes and, per entry, its
    EXTINF attributes plus ``_name`` and ``_url``. Fails on any unexpected line."""
    lines = text.split("\r\n")
    assert lines[-1] == "", "the playlist ends with CRLF"
    lines = lines[:-1]
    assert lines[0].startswith("#EXTM3U"), lines[0]
    header = dict(ATTR.findall(lines[0]))
    entries = []
    i = 1
    while i < len(lines):
        m = EXTINF.match(lines[i])
        assert m, f"line {i + 1} is not an #EXTINF line: {lines[i]!r}"
        attrs = dict(ATTR.findall(m.group(2)))
        attrs["_name"] = m.group(3)
        url = lines[i + 1]
        assert url and not url.startswith("#"), f"line {i + 2} is not a URL: {url!r}"
        attrs["_url"] = url
        entries.append(attrs)
        i += 2
    return header, entries


def record_archive(server: Any, channel_id: int, start: int, end: int) -> None:
    """An archive file on disk for [start, end] of a channel, as the recorder writes it,
    read in and announced as the recorder does."""
    from palinsesto.catalog.models import Channel

    with server.ctx.db.session() as session:
        tenant_id = session.get(Channel, channel_id).tenant_id
    archive = server.ctx.services["archive"]
    folder = archive.folder((tenant_id, channel_id))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{start * 1000}.ts").write_bytes(b"\x47" + b"\xff" * 187)
    (folder / f"{start * 1000}.idx").write_text(f"K {start * 1000} 0\nE {end * 1000} 188\n")
    archive.forget((tenant_id, channel_id))  # as a restart would: read the folder again
    server.ctx.events.publish(tenant_id, "catalog.live")
