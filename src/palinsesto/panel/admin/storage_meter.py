"""Storage per tenant per day, for billing: a background job on the panel's event loop.

Every ``storage_sample_seconds`` (an hour by default) it measures what each tenant holds
on this machine's disks — its media folder (library files and uploads, unfinished ones
included) and its catch-up archive — and raises the day's ``storage_bytes`` to it
(accounts/usage.py keeps the day's highest sample). Walking folders costs disk reads, so it
runs in a worker thread and not more often than that. Archives held by streaming nodes on
other machines are not on these disks and are not counted here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from palinsesto.accounts.models import Tenant
from palinsesto.accounts.usage import record_storage
from palinsesto.db import Database

log = logging.getLogger(__name__)


def disk_bytes(folder: Path) -> int:
    """Bytes the files under ``folder`` hold (links not followed; 0 when it is missing)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # gone while walking
    return total


class StorageMeter:
    def __init__(
        self,
        db: Database,
        media_root: Path,
        archive_root: Path,
        every_seconds: float,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self.media_root, self.archive_root = media_root, archive_root
        self.every = every_seconds
        self._wall = wall
        self._task: asyncio.Task[None] | None = None

    def measure(self, tenant_id: int) -> int:
        """What ``tenant_id`` holds now: media folder plus catch-up archive."""
        folder = str(int(tenant_id))
        return disk_bytes(self.media_root / folder) + disk_bytes(self.archive_root / folder)

    def sample(self) -> dict[int, int]:
        """Measure every tenant and record the figures on today's rows (UTC); the sizes."""
        day = datetime.fromtimestamp(self._wall(), UTC).date()
        with self._db.session() as session:
            tenant_ids = list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
        sizes = {tid: self.measure(tid) for tid in tenant_ids}
        # Rows for tenants that hold nothing would only say 0: left out.
        held = {tid: size for tid, size in sizes.items() if size > 0}
        with self._db.transaction() as session:
            record_storage(session, day, held)
        return sizes

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="storage-meter")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.sample)
            except Exception:  # the database or a disk away for now: next time
                log.exception("storage meter: sample failed")
            await asyncio.sleep(self.every)
