"""GET a URL under the outbound policy: every connection and every redirect hop checked.

httpcore (httpx's transport) does the HTTP; its network backend is the seam where the
policy sits: the host is resolved once, every address checked, and the socket opened to a
checked address. TLS still verifies the certificate against the host name. Redirects are
followed here, not by the client, so each hop goes through the same check. Environment
proxies are not used: a proxy would make the policy check the proxy instead of the target.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore

from palinsesto.outbound.policy import REFUSED, OutboundPolicy, OutboundRefused

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
USER_AGENT = "Palinsesto"


class FetchFailed(Exception):
    """The URL could not be fetched; the message says why and is fit to show its owner."""


class FetchRefused(FetchFailed):
    """The URL, or a redirect hop, points where the outbound policy does not allow."""


class _PolicyBackend(httpcore.SyncBackend):
    """Connects only to addresses the policy checked, resolving each name once."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: Exception | None = None
        for address in self.policy.addresses(host, port):
            try:
                return super().connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure


@dataclass
class Download:
    """An answered request: its final URL (after redirects), status, headers and body."""

    url: str
    status: int
    reason: str
    headers: dict[str, str]
    _response: httpcore.Response
    _deadline: float
    _max_bytes: int

    def iter_bytes(self) -> Iterator[bytes]:
        """The body, refused once it passes ``max_bytes`` or the time allowed."""
        received = 0
        try:
            for chunk in self._response.iter_stream():
                received += len(chunk)
                if received > self._max_bytes:
                    raise FetchFailed(f"larger than the {self._max_bytes} byte limit")
                if time.monotonic() > self._deadline:
                    raise FetchFailed("the download takes longer than allowed")
                yield chunk
        except httpcore.TimeoutException:
            raise FetchFailed("the server stopped sending") from None
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise FetchFailed(f"the download broke off: {exc or type(exc).__name__}") from None


def check_http_url(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL; :class:`FetchFailed` for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchFailed("not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchFailed("only http:// and https:// URLs with a host can be fetched")
    return parts.hostname, port or (443 if parts.scheme.lower() == "https" else 80)


@contextmanager
def open_url(
    url: str,
    policy: OutboundPolicy,
    *,
    timeout: float,
    max_bytes: int,
    max_seconds: float = 3600.0,
    headers: Iterable[tuple[str, str]] = (),
) -> Iterator[Download]:
    """GET ``url`` following at most :data:`MAX_REDIRECTS` redirects, each hop checked.

    ``timeout`` bounds each connect and read, ``max_seconds`` the whole transfer.
    Raises :class:`FetchRefused` for a target (or hop) the policy refuses, without having
    connected to it, and :class:`FetchFailed` for other failures.
    """
    deadline = time.monotonic() + max_seconds
    sent = [("User-Agent", USER_AGENT), ("Accept-Encoding", "identity"), *headers]
    limits = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
    current = url
    with httpcore.ConnectionPool(network_backend=_PolicyBackend(policy)) as pool:
        for _hop in range(MAX_REDIRECTS + 1):
            check_http_url(current)
            try:
                with pool.stream(
                    "GET", current, headers=sent, extensions={"timeout": limits}
                ) as response:
                    location = _header(response, "location")
                    if response.status in REDIRECT_STATUSES and location:
                        current = urljoin(current, location)
                        continue
                    yield Download(
                        current,
                        response.status,
                        response.extensions.get("reason_phrase", b"").decode("latin-1"),
                        _headers(response),
                        response,
                        deadline,
                        max_bytes,
                    )
                    return
            except OutboundRefused:
                where = "" if current == url else f" (redirected to {current})"
                raise FetchRefused(f"{REFUSED}{where}") from None
            except httpcore.TimeoutException:
                raise FetchFailed(f"no answer within {timeout:g} s") from None
            except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
                raise FetchFailed(f"cannot connect: {exc or type(exc).__name__}") from None
            except httpcore.UnsupportedProtocol:
                raise FetchFailed("only http:// and https:// URLs can be fetched") from None
    raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")


def _headers(response: httpcore.Response) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}


def _header(response: httpcore.Response, name: str) -> str:
    wanted = name.encode()
    for key, value in response.headers:
        if key.lower() == wanted:
            return value.decode("latin-1")
    return ""
