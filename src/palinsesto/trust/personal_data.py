"""GDPR erasure helpers without I/O: taking a person's identifiers out of stored JSON.

Erasure (GDPR Art. 17) keeps what the operator must keep — that a line existed, what was
decided about it, the audit chain — and replaces what identifies the person: the line's
username becomes a pseudonym, its password and the holder's contact details go. Stored JSON
(notice targets, statements of reasons, audit snapshots) names a line by its username, as
a whole value or inside a stream URL (``/live/USER/PASS/1.ts``, ``?username=USER&password=…``);
:func:`scrub_line` replaces both forms at any depth, and nothing else (a short username
inside an unrelated word is left alone).
"""

from __future__ import annotations

import re
from typing import Any

from palinsesto.redaction import redact_url

ERASED = "[erased]"


def scrub_line(value: Any, username: str, pseudonym: str) -> Any:
    """``value`` with ``username`` replaced by ``pseudonym`` wherever it names the line, and
    the password that follows it in a URL masked."""
    in_path = re.compile(rf"/{re.escape(username)}/[^/?#]+/")
    in_query = re.compile(rf"([?&]username=){re.escape(username)}(?=&|#|$)")

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            if item == username:
                return pseudonym
            if username in item:
                item = in_path.sub(f"/{pseudonym}/***/", item)
                item = redact_url(in_query.sub(rf"\g<1>{pseudonym}", item))
            return item
        if isinstance(item, list):
            return [walk(x) for x in item]
        if isinstance(item, dict):
            return {walk(k): walk(v) for k, v in item.items()}
        return item

    return walk(value)


def mentions(value: Any, needle: str) -> bool:
    """Whether ``needle`` occurs in a string anywhere inside ``value``."""
    if not needle:
        return False
    if isinstance(value, str):
        return needle in value
    if isinstance(value, list):
        return any(mentions(x, needle) for x in value)
    if isinstance(value, dict):
        return any(mentions(k, needle) or mentions(v, needle) for k, v in value.items())
    return False
