"""The account call's bare-ASGI helpers decode exactly as Starlette does."""

from __future__ import annotations

import pytest
from starlette.datastructures import QueryParams

from palinsesto.panel.playback.raw_http import parse_query, scope_headers


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"username=alice&password=pw123",
        b"username=alice&password=pw123&action=",
        b"username=al%40ice&password=p%26w+1%3D2",  # escaped & and =, + for a space
        b"password=first&password=second",  # the last value wins
        b"flag&&username=x&=empty-name",
        b"username=caf\xc3\xa9&password=%C3%A9t%C3%A9",  # raw and escaped UTF-8
        b"params[offset]=10&params[items_per_page]=5",
    ],
)
def test_parse_query_matches_starlette(raw: bytes) -> None:
    assert parse_query(raw) == dict(QueryParams(raw))


def test_scope_headers_are_read_once_and_lower_case() -> None:
    scope = {"headers": [(b"user-agent", b"App/1.0"), (b"if-none-match", b'"x"')]}
    headers = scope_headers(scope)
    assert headers == {"user-agent": "App/1.0", "if-none-match": '"x"'}
    assert scope_headers(scope) is headers
