"""What a movie's or episode's source is, as the admin API stores it: for a file under
the tenant's media root, its real extension and ffmpeg's description of it (or ffmpeg's
reason for not reading it); for an http(s) URL, nothing to probe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from palinsesto.config import Settings
from palinsesto.node.probe import probe_file
from palinsesto.node.probe_report import MediaInfo, ProbeFailed
from palinsesto.node.supervisor import Supervisor
from palinsesto.node.vod_files import LocalFile, classify_source


@dataclass(frozen=True, slots=True)
class SourceFacts:
    local: bool
    extension: str = ""  # the file's, for container_extension (local files only)
    media_info: dict[str, Any] = field(default_factory=dict)
    probe_error: str = ""


class VodLibrary:
    def __init__(
        self,
        media_root: Path,
        supervisor: Supervisor,
        ffmpeg: Callable[[], str],
        probe_timeout: float = 20.0,
    ) -> None:
        self.media_root = media_root
        self._supervisor = supervisor
        self._ffmpeg = ffmpeg
        self._timeout = probe_timeout

    @classmethod
    def standalone(cls, settings: Settings) -> VodLibrary:
        """A prober with its own supervisor, for a panel that runs no node of its own."""
        return cls(
            settings.effective_media_root,
            Supervisor(),
            settings.resolve_ffmpeg,
            float(settings.vod_probe_timeout_seconds),
        )

    def classify(self, tenant_id: int, source_url: str) -> LocalFile | None:
        """The tenant file ``source_url`` names, None for an http(s) URL; raises
        VodSourceRefused for anything else."""
        source = classify_source(self.media_root, tenant_id, source_url)
        return source if isinstance(source, LocalFile) else None

    async def probe(self, path: Path) -> MediaInfo:
        """ffmpeg's description of a file (library scans), or ProbeFailed with its reason."""
        return await probe_file(self._supervisor, self._ffmpeg(), path, self._timeout)

    async def describe(self, tenant_id: int, source_url: str) -> SourceFacts:
        """Classify ``source_url`` and, for a local file, probe it."""
        local = self.classify(tenant_id, source_url)
        if local is None:
            return SourceFacts(local=False)
        if not local.path.is_file():
            return SourceFacts(True, local.extension, probe_error="No such file")
        try:
            info = await probe_file(self._supervisor, self._ffmpeg(), local.path, self._timeout)
        except ProbeFailed as exc:
            return SourceFacts(True, local.extension, probe_error=exc.reason[:500])
        return SourceFacts(True, local.extension, media_info=info.as_dict())
