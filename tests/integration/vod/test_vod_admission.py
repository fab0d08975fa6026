"""A VOD play is a connection: it counts against max_connections with live plays, and it
is refused (or kicks) as the tenant's policy says; seeks of one play share its session."""

from __future__ import annotations

import asyncio
import time

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.catalog.models import BouquetItem, Channel, ChannelMode, ItemType

from .conftest import VodWorld


def _add_live_channel(world: VodWorld) -> int:
    with world.server.ctx.db.transaction() as session:
        channel = Channel(
            tenant_id=world.tenant.id,
            name="Pattern",
            sources=[{"kind": "test_pattern", "url": "testsrc://320x180@25"}],
            mode=ChannelMode.on_demand,
        )
        session.add(channel)
        session.flush()
        session.add(
            BouquetItem(bouquet_id=world.bouquet_id, item_type=ItemType.channel, item_id=channel.id)
        )
        channel_id = channel.id
    world.server.ctx.events.publish(world.tenant.id, "catalog")
    return channel_id


async def _open(
    world: VodWorld, path: str, ua: str, extra: str = ""
) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", world.engine.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {ua}\r\n{extra}\r\n".encode())
    status = int((await asyncio.wait_for(reader.readline(), 30)).split()[1])
    await reader.readuntil(b"\r\n\r\n")
    return status, reader, writer


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


async def _until(predicate, seconds: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if not await asyncio.wait_for(reader.read(1 << 20), deadline - time.monotonic()):
                return True
    except (TimeoutError, ConnectionError):
        return False
    return False


async def test_a_vod_play_counts_against_max_connections_with_live(vod: VodWorld) -> None:
    channel_id = _add_live_channel(vod)
    vod.set_policy(ConnectionPolicy.refuse)
    vod.set_max_connections(1)
    await asyncio.sleep(0.3)
    movie = _path(vod.movie_url("mp4"))
    live = f"/live/{vod.username}/{vod.password}/{channel_id}.ts"
    sessions = vod.engine.sessions

    status, tv_reader, tv_writer = await _open(vod, movie, "tv")
    assert status == 200
    await tv_reader.readexactly(10_000)
    assert [s.output for s in sessions.all()] == ["movie"]
    # The same player seeking (a second request before the first closes) is the same play.
    seek = await _open(vod, movie, "tv", "Range: bytes=2000000-\r\n")
    assert seek[0] == 206
    assert len(sessions.all()) == 1
    # Another device: refused for a movie, an episode and a live channel alike.
    for path in (movie, _path(vod.episode_url("e1")), live):
        refused = await _open(vod, path, "phone")
        assert refused[0] == 429, path
        refused[2].close()

    for writer in (tv_writer, seek[2]):
        writer.close()
    await _until(lambda: not sessions.all())
    status, live_reader, live_writer = await _open(vod, live, "phone")
    assert status == 200
    await live_reader.readexactly(1000)
    refused = await _open(vod, movie, "tv")
    assert refused[0] == 429
    refused[2].close()

    # kick_oldest: the movie takes the slot and the live viewer is cut.
    vod.set_policy(ConnectionPolicy.kick_oldest)
    await asyncio.sleep(0.3)
    status, reader, writer = await _open(vod, movie, "tv")
    assert status == 200
    assert await _closed_within(live_reader, 3.0)
    assert [s.output for s in sessions.all()] == ["movie"]
    live_writer.close()
    writer.close()
    await _until(lambda: not sessions.all())


async def test_kicking_a_vod_session_closes_its_connections(vod: VodWorld) -> None:
    status, reader, writer = await _open(vod, _path(vod.movie_url("mp4")), "tv")
    assert status == 200
    await reader.readexactly(10_000)
    (session,) = vod.engine.sessions.all()
    # Counted when each sendfile call returns (the reader may see bytes a little before).
    await _until(lambda: session.bytes >= 10_000)
    with vod.admin() as c:  # the panel lists it as a movie play, not as a channel's
        (listed,) = c.get("/api/v1/live/sessions").json()
    assert (listed["output"], listed["channel_id"]) == ("movie", vod.movies["mp4"]["id"])
    assert listed["channel_name"] == ""
    vod.engine.sessions.end(session, "ended by an administrator")
    assert await _closed_within(reader, 3.0)
    writer.close()
    assert len(vod.engine.vod_plays) == 0


async def test_an_open_connection_keeps_its_slot_between_range_requests(vod: VodWorld) -> None:
    """A player fetching small ranges with pauses (AVPlayer does) holds its play while its
    connection is open, and gives it back when it closes (§8.6)."""
    vod.set_policy(ConnectionPolicy.refuse)
    vod.set_max_connections(1)
    await asyncio.sleep(0.3)
    movie = _path(vod.movie_url("mp4"))
    status, reader, writer = await _open(vod, movie, "tv", "Range: bytes=0-99\r\n")
    assert status == 206
    await reader.readexactly(100)  # the response is complete; the connection stays open
    refused = await _open(vod, movie, "phone")
    assert refused[0] == 429
    refused[2].close()
    again = f"GET {movie} HTTP/1.1\r\nHost: x\r\nUser-Agent: tv\r\nRange: bytes=100-199\r\n"
    writer.write(again.encode() + b"\r\n")
    assert (await reader.readline()).startswith(b"HTTP/1.1 206")
    writer.close()
    await _until(lambda: not vod.engine.sessions.all())
    status, _, writer = await _open(vod, movie, "phone", "Range: bytes=0-0\r\n")
    assert status == 206
    writer.close()
