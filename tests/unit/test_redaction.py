"""URL credentials are masked in free text, the rest of each URL left as it was."""

from __future__ import annotations

import pytest

from palinsesto.redaction import redact_url, redact_urls_in


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://u:p@h:8080/x.xml", "http://***@h:8080/x.xml"),
        ("http://u:p@ss@h/x", "http://***@h/x"),  # an '@' in the password
        ("https://h/x?username=u&password=p&a=1", "https://h/x?username=u&password=***&a=1"),
        ("https://h/x?Token=abc#frag", "https://h/x?Token=***#frag"),
        ("srt://h:9000?mode=caller&passphrase=s3cr3t", "srt://h:9000?mode=caller&passphrase=***"),
        ("rtmp://h/live/%20a", "rtmp://h/live/%20a"),  # nothing to hide: unchanged
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_urls_in_an_error_message_are_redacted_and_the_text_kept() -> None:
    text = (
        "cannot download http://u:pw1@127.0.0.1:9/g.xml?password=pw2: [Errno 111] "
        "refused (see 'https://a:pw3@b/c?key=pw4')."
    )
    out = redact_urls_in(text)
    assert not any(secret in out for secret in ("pw1", "pw2", "pw3", "pw4"))
    assert out == (
        "cannot download http://***@127.0.0.1:9/g.xml?password=***: [Errno 111] "
        "refused (see 'https://***@b/c?key=***')."
    )
