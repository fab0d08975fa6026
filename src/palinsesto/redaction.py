"""Credentials out of URLs before they are logged or stored as error text: ``user:pass@``
and the values of query parameters that carry secrets (Xtream's ``password=``, SRT's
``passphrase=``, ``token=``...), and, in request paths, the viewer's password and the play
tokens that viewers' apps send in the path (:func:`redact_request_target`).
"""

from __future__ import annotations

import logging
import re

MASK = "***"
SECRET_PARAMS = (
    "password|pass|passwd|pwd|passphrase|token|access_token|key|api_key|apikey|secret|auth"
    "|signature|sig"
)
# A URL inside free text (an error message, an ffmpeg line): up to a space or a quote,
# without the punctuation that ends a sentence.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>.,;:)\]]")
_USER_INFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
_SECRET_VALUE = re.compile(rf"([?&;](?:{SECRET_PARAMS})=)[^&#;]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with its user info and secret query values replaced by ``***``.

    Textual, not parse-and-rebuild: the rest of the URL stays byte for byte as it was.
    """
    return _SECRET_VALUE.sub(rf"\g<1>{MASK}", _USER_INFO.sub(rf"\g<1>{MASK}@", url))


def redact_urls_in(text: str) -> str:
    """Every URL in ``text`` redacted (see :func:`redact_url`)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


# Request paths of viewers' apps that carry a secret in a path segment (reference §2):
# /live|movie|series|timeshift/USER/PASS/..., /live/~watch/TOKEN/..., /hls/TOKEN/...,
# and the short /USER/PASS/ID form (a numeric last segment, as the router requires).
_PATH_SECRETS = (
    (re.compile(r"^(/(?:live|movie|series|timeshift)/)~watch/[^/?#]+"), rf"\g<1>~watch/{MASK}"),
    (re.compile(r"^(/(?:live|movie|series|timeshift)/[^/?#]+/)[^/?#]+"), rf"\g<1>{MASK}"),
    (re.compile(r"^(/hls/)[^/?#]+"), rf"\g<1>{MASK}"),
    (
        re.compile(r"^(/[^/?#]+/)[^/?#]+(/\d{1,10}(?:\.[A-Za-z0-9]{1,5})?(?:[?#]|$))"),
        rf"\g<1>{MASK}\g<2>",
    ),
)


def redact_request_target(target: str) -> str:
    """A request's path and query as an access log may show it: secrets masked.

    ``/live/u/p/1.ts`` → ``/live/u/***/1.ts``; ``/hls/TOKEN/5.ts`` → ``/hls/***/5.ts``;
    ``/player_api.php?username=u&password=p`` → ``…&password=***``.
    """
    for pattern, replacement in _PATH_SECRETS:
        redacted = pattern.sub(replacement, target, count=1)
        if redacted != target:
            target = redacted
            break
    return _SECRET_VALUE.sub(rf"\g<1>{MASK}", target)


class AccessLogRedaction(logging.Filter):
    """Masks the request target of uvicorn's access log lines (its third argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_request_target(args[2]), *args[3:])
        return True
