"""The pull proxy over real sockets, spoken to as ffmpeg speaks to it (and as an attacker
might): absolute-form GETs, CONNECT tunnels, a second request on the same connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from palinsesto.outbound import REFUSED, policy_from_text
from palinsesto.outbound.pull_proxy import PullProxy
from support.stand_ins import StandIn, closed_port, stand_in


async def _exchange(proxy: PullProxy, request: bytes) -> bytes:
    host, port = proxy.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(-1), 10)  # until the proxy closes
    finally:
        writer.close()


@pytest.fixture
async def world() -> AsyncIterator[tuple[PullProxy, StandIn, StandIn]]:
    with stand_in({"/ok": (200, {}, b"allowed body")}) as internet, stand_in() as private:
        proxy = PullProxy(policy_from_text(f"127.0.0.1:{internet.port}"))
        await proxy.start()
        try:
            yield proxy, internet, private
        finally:
            await proxy.stop()


async def test_get_reaches_allowed_hosts_only(world: tuple[PullProxy, StandIn, StandIn]) -> None:
    proxy, internet, private = world
    ok = await _exchange(proxy, f"GET {internet.base}/ok HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert ok.startswith(b"HTTP/1.0 200") and ok.endswith(b"allowed body")
    answers = set()
    for target in (
        f"http://127.0.0.1:{private.port}/admin",
        f"http://127.0.0.1:{closed_port()}/admin",
        "http://169.254.169.254/latest/meta-data/",
        f"http://localhost:{private.port}/",
    ):
        answer = await _exchange(proxy, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        answers.add(answer)
    assert answers == {
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (len(REFUSED), REFUSED.encode())
    }
    assert private.seen == [] and proxy.refused == 4


async def test_connect_tunnels_are_checked_too(world: tuple[PullProxy, StandIn, StandIn]) -> None:
    proxy, internet, private = world
    tunnel = await _exchange(
        proxy,
        f"CONNECT 127.0.0.1:{internet.port} HTTP/1.1\r\n\r\n"
        f"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(),
    )
    assert tunnel.startswith(b"HTTP/1.1 200 Connection established\r\n\r\n")
    refused = await _exchange(proxy, f"CONNECT 127.0.0.1:{private.port} HTTP/1.1\r\n\r\n".encode())
    assert refused.startswith(b"HTTP/1.1 403 Forbidden")
    assert private.seen == []


async def test_a_second_request_on_the_connection_is_not_forwarded(
    world: tuple[PullProxy, StandIn, StandIn],
) -> None:
    proxy, internet, private = world
    # The allowed request first, then one for the private server on the same connection:
    # it must not ride along to the first request's upstream, nor be proxied unchecked.
    answer = await _exchange(
        proxy,
        f"GET {internet.base}/ok HTTP/1.1\r\nHost: x\r\n\r\n"
        f"GET http://127.0.0.1:{private.port}/admin HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    )
    assert answer.count(b"HTTP/1.") == 1 and answer.endswith(b"allowed body")
    assert internet.seen == ["/ok"] and private.seen == []
    for method in (b"POST", b"PUT", b"DELETE"):
        other = await _exchange(proxy, method + b" %s/ok HTTP/1.1\r\n\r\n" % internet.base.encode())
        assert other.startswith(b"HTTP/1.1 405")
