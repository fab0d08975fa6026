"""Real-world-shaped XMLTV documents, generated: several channels, offsets, encodings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

PROGRAMME_MINUTES = 40


@dataclass(frozen=True)
class GuideSpec:
    """What :func:`xmltv_chunks` writes: ``channels`` × ``days`` of programmes."""

    channels: int
    days: int
    start: int  # unix seconds, first programme of every channel
    prefix: str = "ch"
    offset_minutes: int = 60  # the zone the times are written in
    encoding: str = "utf-8"
    doctype: bool = True
    minutes: int = PROGRAMME_MINUTES  # length of every programme


def _stamp(ts: int, offset_minutes: int) -> str:
    zone = timezone(timedelta(minutes=offset_minutes))
    return datetime.fromtimestamp(ts, UTC).astimezone(zone).strftime("%Y%m%d%H%M%S %z")


def programme_title(channel: int, index: int) -> str:
    return f"Show {index} of Caffè & Tè <{channel}>"


def programme_desc(channel: int, index: int) -> str:
    return f'Episode {index}: "quoted" café, naïve résumé on channel {channel}.'


def channel_id(spec: GuideSpec, channel: int) -> str:
    return f"{spec.prefix}{channel}.example"


def channel_name(spec: GuideSpec, channel: int) -> str:
    return f"Canale {spec.prefix.upper()} {channel} HD"


def xmltv_chunks(spec: GuideSpec) -> Iterator[bytes]:
    """The document in pieces of a few hundred kilobytes, encoded as ``spec.encoding``."""
    per_channel = spec.days * 24 * 60 // spec.minutes
    head = [f'<?xml version="1.0" encoding="{spec.encoding}"?>\n']
    if spec.doctype:
        head.append('<!DOCTYPE tv SYSTEM "xmltv.dtd">\n')
    head.append('<tv generator-info-name="test-generator">\n')
    for c in range(spec.channels):
        head.append(
            f'  <channel id="{channel_id(spec, c)}">\n'
            f'    <display-name lang="it">{channel_name(spec, c)}</display-name>\n'
            f'    <icon src="http://img.example/{c}.png" />\n  </channel>\n'
        )
    yield "".join(head).encode(spec.encoding)
    for c in range(spec.channels):
        parts: list[str] = []
        cid = channel_id(spec, c)
        for i in range(per_channel):
            start = spec.start + i * spec.minutes * 60
            stop = start + spec.minutes * 60
            title = (
                programme_title(c, i)
                .replace("&", "&amp;")
                .replace("<", "&lt;")
                .replace(">", "&gt;")
            )
            desc = programme_desc(c, i).replace('"', "&quot;")
            parts.append(
                f'  <programme start="{_stamp(start, spec.offset_minutes)}" '
                f'stop="{_stamp(stop, spec.offset_minutes)}" channel="{cid}">\n'
                f'    <title lang="it">{title}</title>\n'
                f'    <desc lang="it">{desc}</desc>\n'
                f"    <category>Varietà</category>\n  </programme>\n"
            )
        yield "".join(parts).encode(spec.encoding)
    yield "</tv>\n".encode(spec.encoding)


def xmltv_bytes(spec: GuideSpec) -> bytes:
    return b"".join(xmltv_chunks(spec))


def programme_count(spec: GuideSpec) -> int:
    return spec.channels * (spec.days * 24 * 60 // spec.minutes)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE tv [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<tv><channel id="x"><display-name>&lol9;</display-name></channel></tv>
"""
