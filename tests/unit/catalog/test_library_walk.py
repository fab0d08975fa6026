"""The library walk: video files only, hidden ones skipped, symlinks followed only inside
the tenant's folder and never round in circles; folder paths checked before any disk use."""

from __future__ import annotations

from pathlib import Path

import pytest

from palinsesto.node.library_walk import (
    LibraryPathRefused,
    library_folder,
    normalise_library_path,
    walk_videos,
)


def test_walk_lists_videos_and_follows_symlinks_only_inside(tmp_path: Path) -> None:
    root = tmp_path / "media"
    tenant = root / "7"
    (tenant / "films" / "Sub").mkdir(parents=True)
    (tenant / "films" / "a.mp4").write_bytes(b"x" * 10)
    (tenant / "films" / "Sub" / "b.MKV").write_bytes(b"y" * 20)
    (tenant / "films" / "notes.txt").write_text("no")
    (tenant / "films" / ".hidden.mp4").write_bytes(b"z")
    (tenant / "films" / "loop").symlink_to(tenant / "films")  # back up the tree
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(b"s")
    (tenant / "films" / "out").symlink_to(outside)
    folder = library_folder(root, 7, "films")
    found = {w.rel_path: w.size for w in walk_videos(folder, tenant)}
    assert found == {"a.mp4": 10, "Sub/b.MKV": 20}


@pytest.mark.parametrize("raw", ["../8/films", "/etc", "a/../../x", "C:/films", "films\\..\\.."])
def test_paths_leaving_the_tenant_folder_are_refused(tmp_path: Path, raw: str) -> None:
    (tmp_path / "7").mkdir()
    with pytest.raises(LibraryPathRefused):
        library_folder(tmp_path, 7, raw)


def test_paths_are_stored_normalised() -> None:
    assert normalise_library_path(" ./films//kids/ ") == "films/kids"
    assert normalise_library_path("") == ""
