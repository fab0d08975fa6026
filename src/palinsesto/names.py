"""Names people read (channels, bouquets, tenants, packages…): no invisible characters.

A right-to-left override (U+202E) makes ``Sports‮vt.exe`` read as something else, and a
zero-width space makes two names that look the same differ; both are Unicode "format"
characters (category Cf), like the other bidi controls, joiners and the BOM. Names refuse
them, and control characters (Cc), with the code point in the error. Free text (notes,
descriptions) is left alone: joiners there are real writing (emoji, Persian).
"""

from __future__ import annotations

import unicodedata

REFUSED_CATEGORIES = frozenset({"Cc", "Cf"})


def hidden_character(value: str) -> str | None:
    """The first invisible or direction-changing character of ``value``, as ``U+XXXX NAME``."""
    for char in value:
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            name = unicodedata.name(char, "control character")
            return f"U+{ord(char):04X} {name}"
    return None


def refuse_hidden(value: str) -> str:
    found = hidden_character(value)
    if found is not None:
        raise ValueError(f"contains an invisible or direction-changing character ({found})")
    return value


# A tenant's slug: in URLs, playlists' tenant names and its media folders' names.
SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
