"""A library folder on disk: where it is (inside the tenant's media folder, never outside),
which video files it holds (with size and mtime, what a re-scan compares), and the
sidecars next to a file (``.nfo``, poster images).

Symlinks are followed only where they stay inside the tenant's folder; hidden files and
folders (``.name``) are skipped, as every media centre does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from palinsesto.node.vod_files import CONTENT_TYPES, tenant_root

VIDEO_EXTENSIONS = frozenset(CONTENT_TYPES) - {"mp3", "m4a"}
POSTER_EXTENSIONS = ("jpg", "jpeg", "png", "webp")
IMAGE_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


class LibraryPathRefused(ValueError):
    """The folder is not inside the tenant's media folder (the message names no disk path)."""


@dataclass(frozen=True, slots=True)
class WalkedFile:
    rel_path: str  # relative to the library folder, "/"-separated
    size: int
    mtime_ns: int


def normalise_library_path(raw: str) -> str:
    """The stored form of an operator's folder: relative, "/"-separated, no "." parts;
    LibraryPathRefused for absolute paths and any ".." (checked again on disk)."""
    text = raw.strip().replace("\\", "/")
    if "\x00" in text:
        raise LibraryPathRefused("path must not contain NUL")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise LibraryPathRefused("path must be relative to the tenant's media folder")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LibraryPathRefused("path must not leave the tenant's media folder ('..')")
    return "/".join(parts)


def library_folder(media_root: Path, tenant_id: int, rel: str) -> Path:
    """The library's folder on disk, resolved (symlinks followed) and still inside the
    tenant's folder, or LibraryPathRefused."""
    root = os.path.realpath(tenant_root(media_root, tenant_id))
    folder = os.path.realpath(os.path.join(root, normalise_library_path(rel)))
    if os.path.commonpath([root, folder]) != root:
        raise LibraryPathRefused("path must not leave the tenant's media folder")
    return Path(folder)


def _inside(root: str, path: str) -> bool:
    real = os.path.realpath(path)
    return os.path.commonpath([root, real]) == root


def walk_videos(folder: Path, tenant_folder: Path) -> Iterator[WalkedFile]:
    """Every video file under ``folder``, depth first, in name order."""
    root = os.path.realpath(tenant_folder)
    stack = [("", str(folder))]
    visited: set[str] = set()  # real paths: a symlink back up the tree is walked once
    while stack:
        rel_dir, abs_dir = stack.pop()
        real = os.path.realpath(abs_dir)
        if real in visited:
            continue
        visited.add(real)
        try:
            entries = sorted(os.scandir(abs_dir), key=lambda e: e.name, reverse=True)
        except OSError:
            continue  # unreadable or vanished: the files under it count as missing
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                if entry.is_symlink() and not _inside(root, entry.path):
                    continue
                if entry.is_dir():
                    stack.append((rel, entry.path))
                    continue
                ext = entry.name.rpartition(".")[2].lower()
                if "." not in entry.name or ext not in VIDEO_EXTENSIONS:
                    continue
                st = entry.stat()
            except OSError:
                continue
            yield WalkedFile(rel, st.st_size, st.st_mtime_ns)


def _first_existing(folder: Path, names: list[str]) -> Path | None:
    for name in names:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def nfo_for(folder: Path, rel_path: str, *, single_movie_name: bool) -> Path | None:
    """``<file>.nfo``, else ``movie.nfo`` when ``single_movie_name`` (a movie library)."""
    path = PurePosixPath(rel_path)
    names = [f"{path.stem}.nfo"] + (["movie.nfo"] if single_movie_name else [])
    return _first_existing(folder / path.parent, names)


def poster_for(folder: Path, rel_path: str) -> Path | None:
    """``<file>-poster.jpg``, then ``poster.jpg`` / ``folder.jpg`` in its folder."""
    path = PurePosixPath(rel_path)
    names = [f"{path.stem}-poster.{e}" for e in POSTER_EXTENSIONS]
    names += [f"{base}.{e}" for base in ("poster", "folder", "cover") for e in POSTER_EXTENSIONS]
    return _first_existing(folder / path.parent, names)


def show_folder_files(show_dir: Path) -> tuple[Path | None, Path | None]:
    """A show folder's ``tvshow.nfo`` and poster, either may be None."""
    nfo = _first_existing(show_dir, ["tvshow.nfo"])
    names = [f"{base}.{e}" for base in ("poster", "folder", "cover") for e in POSTER_EXTENSIONS]
    return nfo, _first_existing(show_dir, names)


def read_small(path: Path, limit: int) -> bytes | None:
    """A sidecar's bytes, or None if larger than ``limit`` or unreadable."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError:
        return None
    return data if len(data) <= limit else None
