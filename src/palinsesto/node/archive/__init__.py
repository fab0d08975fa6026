"""The catch-up archive: recording a channel's running output to disk and serving past
windows of it (reference §8.5). ``index`` is sans-I/O, ``store`` owns the disk,
``paths`` parses timeshift URLs, ``delivery`` serves them."""

from palinsesto.node.archive.store import ArchiveStore, ArchiveWriter

__all__ = ["ArchiveStore", "ArchiveWriter"]
