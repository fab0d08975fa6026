"""Where a tenant's file sources may be read from: its own media folder, nothing else.

The platform admin keeps each tenant's files in ``<media_root>/<tenant id>/``. A file
source's path is read inside that folder, as if the folder were ``/``: ``/loop.ts`` is
``<media_root>/<tenant id>/loop.ts``. The path is resolved (``..``, symbolic links) and
must still lie inside the folder and be a regular file. Missing, outside, not a file or
unreadable all get the same answer, so a refusal says nothing about the filesystem.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_REFUSED = "no such file in this tenant's media folder"


class FileRefused(ValueError):
    """The path is not a readable file in the tenant's media folder (one message for all)."""

    def __init__(self) -> None:
        super().__init__(FILE_REFUSED)


def tenant_media_folder(media_root: Path, tenant_id: int) -> Path:
    return media_root / str(int(tenant_id))


def tenant_file(media_root: Path, tenant_id: int, path: str) -> Path:
    """The real path of the tenant's file ``path``; :class:`FileRefused` if there is none.

    ``path`` is read relative to the tenant's folder whether or not it starts with ``/``.
    """
    if "\x00" in path:
        raise FileRefused
    try:
        folder = tenant_media_folder(media_root, tenant_id).resolve(strict=True)
        found = (folder / path.lstrip("/")).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a symlink loop, a name too long
        raise FileRefused from None
    if not found.is_relative_to(folder) or found == folder or not found.is_file():
        raise FileRefused
    if not os.access(found, os.R_OK):
        raise FileRefused
    return found
