"""Bare ASGI plumbing for the viewer surfaces' hottest path (the account call).

Apps send the account call on every start and often on every screen, so it runs without
a Starlette ``Request``/``Response``: the query string is split once by
:func:`parse_query`, headers are read once into a dict by :func:`scope_headers`, and
prebuilt bytes go out through :func:`send_bytes`. Sans-I/O apart from ``send_bytes``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import Scope, Send

HeaderList = list[tuple[bytes, bytes]]


def parse_query(raw: bytes) -> dict[str, str]:
    """A query string as a dict, the last value winning, as ``dict(request.query_params)``.

    The common case (no ``%`` escapes, no ``+``) is a plain split; anything escaped
    goes through :func:`urllib.parse.parse_qsl`, exactly as Starlette decodes it.
    """
    text = raw.decode("latin-1")
    if "%" in text or "+" in text:
        return dict(parse_qsl(text, keep_blank_values=True))
    out: dict[str, str] = {}
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            out[name] = value
    return out


def scope_headers(scope: Scope) -> dict[str, str]:
    """The request headers as a plain dict (lower-case names), built once per request.

    Cheaper than Starlette's ``Headers`` on the hot path, where a missing header (say
    If-None-Match) would otherwise cost a raised and caught ``KeyError``.
    """
    cached: dict[str, str] | None = scope.get("palinsesto.headers")
    if cached is None:
        cached = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        scope["palinsesto.headers"] = cached
    return cached


async def send_bytes(send: Send, status: int, headers: HeaderList, content: bytes) -> None:
    """One complete response: ``headers`` must already hold Content-Length when needed."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
