"""Branding values: colours as #rrggbb, logos recognised by their first bytes."""

from __future__ import annotations

import pytest

from palinsesto.accounts.branding import LOGO_MAX_BYTES, check_colour, logo_type
from palinsesto.errors import InvalidValue


def test_colours_are_hex_or_empty() -> None:
    assert check_colour("#A0b1C2", "c") == "#a0b1c2"
    assert check_colour("", "c") == ""
    for bad in ("red", "#abc", "#abcdeg", "a0b1c2", "#a0b1c2 ", "rgb(1,2,3)"):
        with pytest.raises(InvalidValue):
            check_colour(bad, "c")


@pytest.mark.parametrize(
    ("data", "kind"),
    [(b"\x89PNG\r\n\x1a\n" + b"x", "image/png"), (b"\xff\xd8\xff\xe0", "image/jpeg"),
     (b"GIF89a..", "image/gif"), (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp")],
)  # fmt: skip
def test_logos_are_recognised_by_content(data: bytes, kind: str) -> None:
    assert logo_type(data) == kind


@pytest.mark.parametrize(
    "data",
    [b"", b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%PDF-1.7", b"RIFF\0\0\0\0WAVE",
     b"\x89PNG\r\n\x1a\n" + b"\0" * LOGO_MAX_BYTES],
)  # fmt: skip
def test_other_files_and_large_ones_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidValue):
        logo_type(data)
