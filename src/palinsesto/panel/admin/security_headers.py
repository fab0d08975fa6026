"""Headers that keep the panel from being framed, sniffed or made to run foreign code.

The Content-Security-Policy allows only the panel's own scripts and styles (it has no
inline ones), the channel logos operators link from anywhere, and what browser playback
needs: hls.js runs a ``blob:`` worker and feeds the ``<video>`` a ``blob:`` Media Source,
and it fetches playlists and segments from the data plane, which listens on another port
of the same host (see playback/live_routes.py), so that host is allowed on any port.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


def content_security_policy(scheme: str, host: str) -> str:
    """The policy for a page the browser loaded from ``scheme://host``."""
    data_plane = f"{scheme}://{host}:*"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            # blob: the channel thumbnail, fetched with the bearer token and shown from memory.
            "img-src 'self' data: blob: http: https:",
            f"media-src 'self' blob: {data_plane}",
            "worker-src 'self' blob:",
            f"connect-src 'self' {data_plane}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _host(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"host":
            host = value.decode("latin-1")
            # Keep the host name only (the port is a wildcard); brackets stay on IPv6.
            if host.startswith("["):
                return host[: host.find("]") + 1] or "localhost"
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    server = scope.get("server")
    return server[0] if server else "localhost"


class SecurityHeaders:
    """ASGI middleware adding :data:`STATIC_HEADERS` and the CSP to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = content_security_policy(scope.get("scheme", "http"), _host(scope)).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in (*STATIC_HEADERS, (b"content-security-policy", policy)):
                    if name not in present:
                        headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
