"""Library scans in the background: walk the folder, probe what changed, write the
catalogue, and say how far along it is.

One scan per library at a time (:class:`ScanBusy`, the API's 409). A scan first walks
the folder (stat only), then probes, with ``library_probe_workers`` ffmpeg processes at
once, every file that is new or whose size or mtime changed since it was last probed;
files gone since are marked missing. Results are written in batches, each its own
transaction, so a scan of 10,000 files shows its catalogue filling in and a crash loses
one batch. A file ffmpeg cannot read is recorded with ffmpeg's reason; nothing a single
file does stops the scan.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from palinsesto.catalog.library_names import parse_episode_name, season_of_folder
from palinsesto.catalog.library_store import (
    KnownFile,
    LibraryWriter,
    ProbedFile,
    ShowFacts,
    known_files,
    mark_missing,
)
from palinsesto.catalog.models import LibraryFileStatus, LibraryKind, MediaLibrary, ScanState
from palinsesto.catalog.nfo import MAX_NFO_BYTES, Sidecar, parse_nfo
from palinsesto.cluster.events import ChangeEvents
from palinsesto.db import Database
from palinsesto.node.library_walk import (
    WalkedFile,
    library_folder,
    nfo_for,
    poster_for,
    read_small,
    show_folder_files,
    walk_videos,
)
from palinsesto.node.probe_report import ProbeFailed
from palinsesto.node.vod_files import tenant_root
from palinsesto.node.vod_library import VodLibrary
from palinsesto.panel.playback.posters import PosterLinks

log = logging.getLogger(__name__)

BATCH = 50  # files written per transaction
BATCH_SECONDS = 1.0  # ...or sooner, so the catalogue fills in while a slow scan runs


class ScanBusy(Exception):
    """This library is being scanned already."""


@dataclass
class ScanProgress:
    library_id: int
    tenant_id: int
    state: ScanState = ScanState.running
    phase: str = "walking"  # walking, probing, finishing, done
    files_seen: int = 0
    files_to_probe: int = 0
    files_probed: int = 0  # ffmpeg ran on it (the failed ones included)
    files_failed: int = 0
    files_unchanged: int = 0
    files_missing: int = 0
    current_file: str = ""
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    error: str = ""

    @property
    def percent(self) -> float:
        if self.state is not ScanState.running:
            return 100.0
        if self.phase == "walking" or not self.files_seen:
            return 0.0
        done = self.files_unchanged + self.files_probed
        return round(min(99.9, 100.0 * done / self.files_seen), 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "library_id": self.library_id,
            "state": self.state.value,
            "phase": self.phase,
            "percent": self.percent,
            "files_seen": self.files_seen,
            "files_to_probe": self.files_to_probe,
            "files_probed": self.files_probed,
            "files_failed": self.files_failed,
            "files_unchanged": self.files_unchanged,
            "files_missing": self.files_missing,
            "current_file": self.current_file,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class LibraryRef:
    id: int
    tenant_id: int
    path: str
    kind: LibraryKind


@dataclass(frozen=True, slots=True)
class _Probed:
    walked: WalkedFile
    media_info: dict[str, Any] | None
    error: str


def _changed(walked: WalkedFile, known: KnownFile | None) -> bool:
    return (
        known is None
        or known.status is LibraryFileStatus.missing
        or known.size != walked.size
        or known.mtime_ns != walked.mtime_ns
    )


class LibraryScans:
    def __init__(
        self,
        db: Database,
        events: ChangeEvents,
        vod: VodLibrary,
        posters: PosterLinks,
        workers: int,
    ) -> None:
        self._db, self._events, self._vod, self._posters = db, events, vod, posters
        self._workers = workers
        self._running: dict[int, ScanProgress] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def progress(self, library_id: int) -> ScanProgress | None:
        """The running scan's progress, or None when none runs."""
        return self._running.get(library_id)

    def start(self, library: LibraryRef) -> ScanProgress:
        """Start scanning in the background (call on the event loop); ScanBusy if running."""
        if library.id in self._running:
            raise ScanBusy(f"library {library.id} is being scanned")
        progress = ScanProgress(library.id, library.tenant_id)
        self._running[library.id] = progress
        task = asyncio.get_running_loop().create_task(self._scan(library, progress))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return progress

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Until every scan started so far has finished (tests, benchmarks)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- the scan ----

    async def _scan(self, library: LibraryRef, progress: ScanProgress) -> None:
        try:
            await asyncio.to_thread(self._mark_running, library.id)
            await self._run(library, progress)
            progress.state = ScanState.done
        except asyncio.CancelledError:
            progress.state, progress.error = ScanState.failed, "the server stopped"
            raise
        except Exception as exc:
            log.exception("scan of library %d failed", library.id)
            progress.state, progress.error = ScanState.failed, str(exc)[:500] or type(exc).__name__
        finally:
            progress.phase, progress.current_file = "done", ""
            progress.finished_at = time.time()
            try:
                await asyncio.to_thread(self._record_outcome, library, progress)
            finally:
                self._running.pop(library.id, None)
                self._events.publish(library.tenant_id, "catalog")

    async def _run(self, library: LibraryRef, progress: ScanProgress) -> None:
        media_root = self._vod.media_root
        folder = library_folder(media_root, library.tenant_id, library.path)
        if not folder.is_dir():
            raise FileNotFoundError("the library's folder does not exist (any more)")
        known = await asyncio.to_thread(self._known, library.id)
        tenant_folder = tenant_root(media_root, library.tenant_id)

        def walk() -> list[WalkedFile]:
            found = []
            for item in walk_videos(folder, tenant_folder):
                found.append(item)
                progress.files_seen += 1
                progress.current_file = item.rel_path
            return found

        walked = await asyncio.to_thread(walk)
        changed = [w for w in walked if _changed(w, known.get(w.rel_path))]
        progress.files_unchanged = len(walked) - len(changed)
        progress.files_to_probe = len(changed)
        progress.phase = "probing"
        await self._probe_all(library, folder, changed, progress)
        progress.phase, progress.current_file = "finishing", ""
        seen = {w.rel_path for w in walked}
        progress.files_missing = await asyncio.to_thread(self._finish, library.id, seen)

    async def _probe_all(
        self, library: LibraryRef, folder: Path, files: list[WalkedFile], progress: ScanProgress
    ) -> None:
        pending: list[_Probed] = []
        write_lock = asyncio.Lock()
        last_write = time.monotonic()
        queue = iter(files)
        shows: dict[str, ShowFacts] = {}

        async def flush(force: bool) -> None:
            nonlocal pending, last_write
            async with write_lock:
                due = len(pending) >= BATCH or time.monotonic() - last_write >= BATCH_SECONDS
                if not pending or not (force or due):
                    return
                batch, pending = pending, []
                last_write = time.monotonic()
                await asyncio.to_thread(self._store, library, folder, batch, shows)

        async def worker() -> None:
            for walked in queue:  # one shared iterator: each file goes to one worker
                progress.current_file = walked.rel_path
                try:
                    info = await self._vod.probe(folder / walked.rel_path)
                    probed = _Probed(walked, info.as_dict(), "")
                except ProbeFailed as exc:
                    probed = _Probed(walked, None, exc.reason[:500])
                    progress.files_failed += 1
                progress.files_probed += 1
                pending.append(probed)
                await flush(False)

        await asyncio.gather(*(worker() for _ in range(self._workers)))
        await flush(True)

    # ---- on worker threads ----

    def _known(self, library_id: int) -> dict[str, KnownFile]:
        with self._db.session() as session:
            return known_files(session, library_id)

    def _sidecar(self, path: Path | None) -> Sidecar | None:
        data = read_small(path, MAX_NFO_BYTES) if path is not None else None
        return parse_nfo(data) if data is not None else None

    def _poster(self, tenant_id: int, path: Path | None) -> str:
        return self._posters.url(tenant_id, path) if path is not None else ""

    def _show_facts(
        self, library: LibraryRef, folder: Path, rel_path: str, shows: dict[str, ShowFacts]
    ) -> ShowFacts:
        parts = list(PurePosixPath(rel_path).parent.parts)
        if parts and season_of_folder(parts[-1]) is not None:
            parts.pop()
        show_rel = "/".join(parts)
        if show_rel not in shows:
            if show_rel:
                nfo, poster = show_folder_files(folder / show_rel)
                facts = ShowFacts(
                    show_rel, self._sidecar(nfo), self._poster(library.tenant_id, poster)
                )
            else:
                facts = ShowFacts("", None, "")
            shows[show_rel] = facts
        return shows[show_rel]

    def _result(
        self, library: LibraryRef, folder: Path, probed: _Probed, shows: dict[str, ShowFacts]
    ) -> ProbedFile:
        walked = probed.walked
        rel = walked.rel_path
        extension = rel.rpartition(".")[2].lower()
        movie_library = library.kind is LibraryKind.movie
        sidecar = self._sidecar(nfo_for(folder, rel, single_movie_name=movie_library))
        if movie_library:
            poster = self._poster(library.tenant_id, poster_for(folder, rel))
            return ProbedFile(
                rel, walked.size, walked.mtime_ns, extension, probed.media_info, probed.error,
                sidecar, poster,
            )  # fmt: skip
        stem = PurePosixPath(rel).stem
        thumbs = ((folder / rel).with_name(f"{stem}-thumb.{e}") for e in ("jpg", "png"))
        thumb = next((p for p in thumbs if p.is_file()), None)
        return ProbedFile(
            rel, walked.size, walked.mtime_ns, extension, probed.media_info, probed.error,
            sidecar, self._poster(library.tenant_id, thumb),
            parse_episode_name(rel), self._show_facts(library, folder, rel, shows),
        )  # fmt: skip

    def _store(
        self,
        library: LibraryRef,
        folder: Path,
        batch: list[_Probed],
        shows: dict[str, ShowFacts],
    ) -> None:
        results = [self._result(library, folder, p, shows) for p in batch]
        with self._db.transaction() as session:
            row = session.get(MediaLibrary, library.id)
            if row is None:
                return  # deleted while scanning: nothing to fill
            LibraryWriter(session, row, datetime.now(UTC)).store(results)
        self._events.publish(library.tenant_id, "catalog")

    def _finish(self, library_id: int, seen: set[str]) -> int:
        with self._db.transaction() as session:
            row = session.get(MediaLibrary, library_id)
            return mark_missing(session, row, seen) if row is not None else 0

    def _mark_running(self, library_id: int) -> None:
        with self._db.transaction() as session:
            row = session.get(MediaLibrary, library_id)
            if row is not None:
                row.scan_state = ScanState.running
                row.scan_started_at = datetime.now(UTC)

    def _record_outcome(self, library: LibraryRef, progress: ScanProgress) -> None:
        with self._db.transaction() as session:
            row = session.get(MediaLibrary, library.id)
            if row is None:
                return
            row.scan_state = progress.state
            row.scan_finished_at = datetime.now(UTC)
            row.scan_error = progress.error
            row.scan_summary = progress.as_dict()
