"""Request bodies are bounded per route, and refused before they are read.

A declared ``Content-Length`` over the limit is answered 413 at once, without reading a
byte of the body (the server then closes the connection rather than drain it). A body sent
without a length (chunked) is counted as the application reads it; past the limit the 413
goes out and the rest is never read. The JSON API takes small bodies; routes that take
documents (an XMLTV upload) name their own, larger limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from palinsesto.panel.admin.api.errors import error_body

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RouteLimit:
    """Bodies of ``method`` requests whose path matches ``path`` may hold ``max_bytes``."""

    method: str
    path: re.Pattern[str]
    max_bytes: int


class _TooLarge(Exception):
    pass


def _reply(limit: int) -> tuple[Message, Message]:
    message = f"The request body is larger than this route's limit of {limit:,} bytes."
    body = json.dumps(error_body("body_too_large", message)).encode()
    start: Message = {
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class BodyLimit:
    """ASGI middleware: 413 for a request body over its route's limit."""

    def __init__(
        self,
        app: ASGIApp,
        default_max_bytes: int = DEFAULT_MAX_BODY_BYTES,
        routes: Sequence[RouteLimit] = (),
    ) -> None:
        self.app = app
        self.default_max_bytes = default_max_bytes
        self.routes = tuple(routes)

    def limit_for(self, method: str, path: str) -> int:
        for route in self.routes:
            if route.method == method and route.path.fullmatch(path):
                return route.max_bytes
        return self.default_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            for message in _reply(limit):
                await send(message)
            return

        received = 0
        replied = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, replied
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not started and not replied:
                        replied = True
                        for reply in _reply(limit):
                            await send(reply)
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if replied:
                return  # the 413 went out; whatever the app makes of the error is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except _TooLarge:
            if not replied:
                raise
