"""A tenant's look: display name, two colours and a logo, checked before they are stored.

Logos are raster images only, recognised by their first bytes (not by the name or the
declared type): PNG, JPEG, GIF or WebP, at most :data:`LOGO_MAX_BYTES`. SVG is refused: it
can carry script, and the logo is served from the panel's own origin.
"""

from __future__ import annotations

import re

from palinsesto.errors import InvalidValue

LOGO_MAX_BYTES = 256 * 1024
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def check_colour(value: str, field: str) -> str:
    """``#rrggbb`` (lower-cased), or empty for the platform's colour."""
    if value and not HEX_COLOUR.match(value):
        raise InvalidValue("Use a colour like #1a2b3c.", field)
    return value.lower()


def logo_type(data: bytes) -> str:
    """The image's media type from its signature, or InvalidValue."""
    if not data:
        raise InvalidValue("The logo file is empty.", "file")
    if len(data) > LOGO_MAX_BYTES:
        raise InvalidValue(f"The logo is larger than {LOGO_MAX_BYTES // 1024} KiB.", "file")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise InvalidValue("The logo must be a PNG, JPEG, GIF or WebP image.", "file")
