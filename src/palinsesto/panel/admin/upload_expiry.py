"""Abandoned uploads are deleted: a background job on the panel's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from palinsesto.panel.admin.uploads import UploadStore

log = logging.getLogger(__name__)

# Checked this often at most: an expiry of a day need not be enforced to the second.
MAX_CHECK_SECONDS = 600.0


class UploadExpiry:
    def __init__(self, store: UploadStore) -> None:
        self.store = store
        self.every = min(MAX_CHECK_SECONDS, max(1.0, store.expiry_seconds / 4))
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="upload-expiry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                removed = await asyncio.to_thread(self.store.expire)
            except OSError:  # the media folder unreadable for now: try again next time
                log.exception("upload expiry: run failed")
                continue
            if removed:
                log.info("upload expiry: %d abandoned upload(s) deleted", removed)
