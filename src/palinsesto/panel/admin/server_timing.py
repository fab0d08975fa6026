"""``Server-Timing: app;dur=<ms>`` on every admin API response: the time from the request
reaching the API to its response headers, i.e. the server's own work without the network.

The panel's budget ("each list's first page in at most 300 ms of server time") is checked
against this figure; browsers show it in their network panel too. The viewer surfaces
(player API, playlists) and the data plane are dispatched before this middleware and are
not timed here.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerTiming:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={ms:.1f}".encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_timed)
