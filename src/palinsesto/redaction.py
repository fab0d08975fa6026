"""Credentials out of URLs before they are logged or stored as error text: ``user:pass@``
and the values of query parameters that carry secrets (Xtream's ``password=``, SRT's
``passphrase=``, ``token=``...)."""

from __future__ import annotations

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
