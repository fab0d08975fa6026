"""A movie's or episode's ``source_url`` checked and probed as it is stored.

A local file must lie under the tenant's media root (media/vod_files.py); its extension
becomes ``container_extension`` (the apps append it to /movie/U/P/ID.ext, reference
§4.4, so the list must name what actually plays) and ffmpeg's description of it is kept
in the row for ``get_vod_info`` / ``get_series_info``. An http(s) source is stored as
given and not probed. Probing runs on the event loop's supervisor (the one place that
runs processes) while this request's worker thread waits for it.
"""

from __future__ import annotations

import anyio.from_thread

from palinsesto.catalog.models import Episode, Movie
from palinsesto.context import AppContext
from palinsesto.errors import InvalidValue
from palinsesto.node.vod_files import VodSourceRefused
from palinsesto.node.vod_library import SourceFacts, VodLibrary


def _facts(ctx: AppContext, tenant_id: int, source_url: str) -> SourceFacts:
    library: VodLibrary | None = ctx.services.get("vod_library")
    if library is None or not source_url.strip():
        return SourceFacts(local=False)
    try:
        library.classify(tenant_id, source_url)
    except VodSourceRefused as exc:
        raise InvalidValue(str(exc), "source_url") from None
    return anyio.from_thread.run(library.describe, tenant_id, source_url)


def apply_source(
    ctx: AppContext, row: Movie | Episode, tenant_id: int, extension_asked: str | None
) -> None:
    """Check and probe ``row.source_url``; fill container_extension, media_info,
    probe_error and (when probed) duration_secs. Raises InvalidValue, changing nothing,
    when the source is refused or ``extension_asked`` is not the file's."""
    facts = _facts(ctx, tenant_id, row.source_url or "")
    if not facts.local:
        row.media_info, row.probe_error = {}, ""
        return
    if extension_asked is not None and extension_asked != facts.extension:
        raise InvalidValue(
            f"container_extension must be the file's extension, {facts.extension!r}",
            "container_extension",
        )
    row.container_extension = facts.extension
    row.media_info = facts.media_info
    row.probe_error = facts.probe_error
    if facts.media_info:
        row.duration_secs = int(facts.media_info.get("duration_secs", 0))
