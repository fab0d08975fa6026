"""``xmltv.php`` and ``/epg/U/P[/gz]``: the line's guide as XMLTV (reference §7).

Channels first, then programmes (DTD order), times as ``YYYYMMDDhhmmss +0000`` (§14).
Programmes come from the :class:`~palinsesto.panel.playback.guide.Guide` channel by channel and
are written out as they arrive: the document is streamed, never built whole.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from palinsesto.panel.playback.bodies import entity_tag, gzip_stream, stream
from palinsesto.panel.playback.catalog_view import LiveSection
from palinsesto.panel.playback.guide import Guide, ProgrammeRow
from palinsesto.panel.playback.viewer import ViewerSurfaces, plain_headers, viewer_request

FLUSH_BYTES = 64 * 1024
MAX_DAYS = 31


def xmltv_time(ts: int) -> str:
    # §7.2/§14: always seconds and an explicit offset; UTC.
    return datetime.fromtimestamp(ts, UTC).strftime("%Y%m%d%H%M%S +0000")


def guide_channels(live: LiveSection) -> list[tuple[str, str, str]]:
    """``(epg_channel_id, display name, icon)`` for each distinct mapped channel, in order."""
    seen: set[str] = set()
    out = []
    for ch in live.items:
        if ch.epg_channel_id and ch.epg_channel_id not in seen:
            seen.add(ch.epg_channel_id)
            out.append((ch.epg_channel_id, ch.name, ch.logo))
    return out


def render_document(
    channels: list[tuple[str, str, str]],
    programmes: Iterable[ProgrammeRow],
    *,
    generator_name: str,
    generator_url: str,
) -> Iterator[bytes]:
    """The XMLTV document, in chunks of about ``FLUSH_BYTES``."""
    parts = [
        '<?xml version="1.0" encoding="utf-8" ?>\n<!DOCTYPE tv SYSTEM "xmltv.dtd">\n',
        f"<tv generator-info-name={quoteattr(generator_name)} "
        f"generator-info-url={quoteattr(generator_url)}>\n",
    ]
    for channel_id, name, icon in channels:
        parts.append(f"  <channel id={quoteattr(channel_id)}>\n")
        parts.append(f"    <display-name>{escape(name)}</display-name>\n")
        if icon:
            parts.append(f"    <icon src={quoteattr(icon)}/>\n")
        parts.append("  </channel>\n")
    size = sum(map(len, parts))
    for row in programmes:
        text = (
            f"  <programme start={quoteattr(xmltv_time(row.start))} "
            f"stop={quoteattr(xmltv_time(row.stop))} channel={quoteattr(row.channel_id)}>\n"
            + programme_children(row)
            + "  </programme>\n"
        )
        parts.append(text)
        size += len(text)
        if size >= FLUSH_BYTES:
            yield "".join(parts).encode()
            parts, size = [], 0
    parts.append("</tv>\n")
    yield "".join(parts).encode()


def _lang(lang: str) -> str:
    return f" lang={quoteattr(lang)}" if lang else ""


def programme_children(row: ProgrammeRow) -> str:
    """§7.2: the children the imported guide had, decoded text, XML-escaped, in the DTD's
    order: title, sub-title, desc, category*, episode-num*, rating*."""
    details = row.details
    out = [f"    <title{_lang(row.lang)}>{escape(row.title)}</title>\n"]
    if details is not None and details.sub_title:
        lang = _lang(details.sub_title_lang)
        out.append(f"    <sub-title{lang}>{escape(details.sub_title)}</sub-title>\n")
    if row.description:
        lang = _lang(details.desc_lang if details is not None and details.desc_lang else row.lang)
        out.append(f"    <desc{lang}>{escape(row.description)}</desc>\n")
    if details is not None:
        for lang, name in details.categories:
            out.append(f"    <category{_lang(lang)}>{escape(name)}</category>\n")
        for system, value in details.episode_nums:
            # The DTD's default system is "onscreen"; say it either way.
            system = quoteattr(system or "onscreen")
            out.append(f"    <episode-num system={system}>{escape(value)}</episode-num>\n")
        for system, value in details.ratings:
            label = f" system={quoteattr(system)}" if system else ""
            out.append(
                f"    <rating{label}>\n      <value>{escape(value)}</value>\n    </rating>\n"
            )
    return "".join(out)


def _days(raw: str, name: str, default: int) -> int:
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if not 0 <= value <= MAX_DAYS:
        raise ValueError(f"{name} must be between 0 and {MAX_DAYS}")
    return value


class XmltvGuide:
    """The ``xmltv.php`` endpoint."""

    def __init__(self, surfaces: ViewerSurfaces) -> None:
        self.surfaces = surfaces

    async def handle(self, request: Request) -> Response:
        viewer = await viewer_request(request)
        # §7.1: XC answers 401 with an empty body.
        line = await self.surfaces.authenticate_download(viewer, bad_login_status=401)
        if isinstance(line, Response):
            return line
        params = viewer.params
        try:
            # §7.1: XC's window parameters, one day either side by default.
            prev_days = _days(params.get("prev_days", ""), "prev_days", 1)
            next_days = _days(params.get("next_days", "") or params.get("days", ""), "next_days", 1)
        except ValueError as exc:
            return Response(str(exc), status_code=400, media_type="text/plain")
        gz_file = request.path_params.get("gz") == "gz" or params.get("gzip") == "1"
        # The window moves by whole hours so that ETags (and caches) stay useful.
        hour = int(time.time()) // 3600 * 3600
        start, stop = hour - prev_days * 86400, hour + (next_days + 1) * 86400
        cache = self.surfaces.catalogs
        live = await run_in_threadpool(cache.live, line.tenant_id, line.bouquet_ids, line.blocked)
        tenant = cache.peek_tenant(line.tenant_id)
        if tenant is None:
            tenant = await run_in_threadpool(cache.tenant, line.tenant_id)
        guide: Guide = self.surfaces.guide()
        channels = guide_channels(live)
        etag = entity_tag(
            repr(
                (
                    line.tenant_id,
                    line.bouquet_ids,
                    sorted(line.blocked),
                    cache.stamp(line.tenant_id, "live"),
                    tenant,
                    guide.version(line.tenant_id),
                    start,
                    stop,
                    gz_file,
                    type(guide).__name__,
                )
            ).encode()
        )
        chunks = render_document(
            channels,
            guide.stream(line.tenant_id, [c[0] for c in channels], start, stop),
            generator_name=tenant[0] or "Palinsesto",
            generator_url=f"{self.surfaces.public_url}/",
        )
        if gz_file:
            # §7.1/§7.2: XUI's gzip file variant, a download rather than an encoding.
            return stream(
                plain_headers(request),
                gzip_stream(chunks),
                "application/octet-stream",
                etag=etag,
                compress=False,
                extra_headers={"Content-Disposition": 'attachment; filename="epg.xml.gz"'},
            )
        return stream(plain_headers(request), chunks, "application/xml; charset=utf-8", etag=etag)
