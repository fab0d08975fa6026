"""What a guide programme says beyond its title and description: the XMLTV elements that
players show (Kodi reads sub-title, category, episode-num, rating; reference §7.2).

Stored as one JSON value per programme (absent for most), read back as
:class:`ProgrammeDetails` and written out again by ``xmltv.php`` in DTD order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

# Bounds per programme: a feed cannot make one row hold megabytes of extras.
MAX_TEXT = 1000
MAX_REPEATS = 10

Labelled = tuple[tuple[str, str], ...]  # (lang or system, text) pairs, in document order


@dataclass(frozen=True, slots=True)
class ProgrammeDetails:
    sub_title: str = ""
    sub_title_lang: str = ""
    desc_lang: str = ""
    categories: Labelled = ()  # (lang, name)
    episode_nums: Labelled = ()  # (system, value), e.g. ("xmltv_ns", "0.4.")
    ratings: Labelled = ()  # (system, value), e.g. ("MPAA", "PG")

    def to_json(self) -> str:
        data: dict[str, Any] = {
            key: value
            for key, value in (
                ("sub_title", self.sub_title),
                ("sub_title_lang", self.sub_title_lang),
                ("desc_lang", self.desc_lang),
                ("categories", [list(p) for p in self.categories]),
                ("episode_nums", [list(p) for p in self.episode_nums]),
                ("ratings", [list(p) for p in self.ratings]),
            )
            if value
        }
        return orjson.dumps(data).decode()

    @classmethod
    def from_stored(cls, stored: Any) -> ProgrammeDetails | None:
        """From the stored column: JSON text (SQLite), a parsed object (PostgreSQL's
        driver parses json), or None."""
        if not stored:
            return None
        data = orjson.loads(stored) if isinstance(stored, str | bytes) else stored

        def pairs(key: str) -> Labelled:
            return tuple((str(a), str(b)) for a, b in data.get(key, ()))

        return cls(
            sub_title=str(data.get("sub_title", "")),
            sub_title_lang=str(data.get("sub_title_lang", "")),
            desc_lang=str(data.get("desc_lang", "")),
            categories=pairs("categories"),
            episode_nums=pairs("episode_nums"),
            ratings=pairs("ratings"),
        )
