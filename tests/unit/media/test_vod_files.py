"""A VOD source resolves inside its tenant's media folder, or is refused without detail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from palinsesto.node.vod_files import (
    LocalFile,
    RemoteUrl,
    VodSourceRefused,
    classify_source,
    tenant_file,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "media" / "7" / "films").mkdir(parents=True)
    (tmp_path / "media" / "7" / "films" / "a.MKV").write_bytes(b"x")
    (tmp_path / "media" / "8").mkdir()
    (tmp_path / "media" / "8" / "b.mp4").write_bytes(b"y")
    return tmp_path / "media"


def test_relative_absolute_and_file_url_forms(root: Path) -> None:
    expected = (root / "7" / "films" / "a.MKV").resolve()
    for raw in ("films/a.MKV", str(expected), f"file://{expected}", "./films/../films/a.MKV"):
        local = tenant_file(root, 7, raw)
        assert local == LocalFile(expected)
    assert local.extension == "mkv" and local.content_type == "video/x-matroska"


@pytest.mark.parametrize(
    "raw",
    [
        "../8/b.mp4",  # another tenant's file
        "/etc/passwd",
        "films/../../8/b.mp4",
        "file://otherhost/x.mp4",
        "file:///etc/hosts",
        "a\x00.mp4",
        ".",
        "films",  # the folder itself has no extension
    ],
)
def test_anything_outside_the_tenant_folder_is_refused(root: Path, raw: str) -> None:
    with pytest.raises(VodSourceRefused) as caught:
        tenant_file(root, 7, raw)
    assert str(root) not in str(caught.value)


def test_a_symlink_out_of_the_folder_is_refused(root: Path) -> None:
    os.symlink(root / "8" / "b.mp4", root / "7" / "sneaky.mp4")
    with pytest.raises(VodSourceRefused):
        tenant_file(root, 7, "sneaky.mp4")
    os.symlink(root / "7" / "films" / "a.MKV", root / "7" / "alias.mkv")  # inside: fine
    assert tenant_file(root, 7, "alias.mkv").path.name == "a.MKV"


def test_classify(root: Path) -> None:
    assert classify_source(root, 8, "https://cdn.example/x.mp4") == RemoteUrl(
        "https://cdn.example/x.mp4"
    )
    assert isinstance(classify_source(root, 8, " b.mp4 "), LocalFile)
    for bad in ("", "  ", "rtmp://host/app", "ftp://host/x.mp4"):
        with pytest.raises(VodSourceRefused):
            classify_source(root, 8, bad)
