"""SRT push ingest: one listener per ``push_srt`` channel, on its own UDP port.

SRT routes by port, not by name (ingest-notes.md, "SRT push"), so each push_srt channel
gets a port (its source's ``port`` option, else ``srt_port_base + channel id``) and the
channel's stream key as passphrase: a caller with another passphrase is refused by libsrt
(``BADSECRET``) before any media flows, and rotating the key restarts the listener with
the new one, cutting a publisher still using the old key.

The listener is an ffmpeg that waits for a caller and relays its MPEG-TS to stdout; its
bytes become a :class:`~palinsesto.node.channel.PushFeed`, so a pushed SRT feed is a
source like an RTMP one: the channel falls back to its next source when the publisher
leaves and returns to the push when a publisher is back. The listener runs apart from the
channel's ffmpeg, so waiting for a publisher is never taken for a stalled source.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from palinsesto.node.channel import PushFeed
from palinsesto.node.ffmpeg import srt_ingest_argv, srt_listener_url
from palinsesto.node.supervisor import Backoff, Child

if TYPE_CHECKING:
    from palinsesto.node.host import ChannelHost
    from palinsesto.protocol.channels import ChannelInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SrtEndpoint:
    """Where and with which secret a push_srt channel listens."""

    channel_id: int
    tenant_id: int
    host: str
    port: int
    passphrase: str


class SrtListener:
    """The listener of one channel: restarts its ffmpeg after every publisher or error."""

    def __init__(self, engine: ChannelHost, info: ChannelInfo, endpoint: SrtEndpoint) -> None:
        self.engine, self.info, self.endpoint = engine, info, endpoint
        self.publishes = 0
        self.last_message = ""
        self._feed: PushFeed | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"srt-{self.endpoint.channel_id}")

    async def stop(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        ep = self.endpoint
        argv = srt_ingest_argv(
            self.engine.ffmpeg, srt_listener_url(ep.port, ep.passphrase, ep.host)
        )
        backoff = Backoff(0.2, 5.0)
        while True:
            child = await self.engine.supervisor.spawn(argv)
            try:
                await self._relay(child)
            finally:
                self._close_feed()
                await child.stop(grace=0.5)
                self.last_message = child.last_message()
            if self.publishes and child.returncode == 0:
                backoff.reset()
            else:
                # No publisher came and ffmpeg ended anyway (port in use, bad option...).
                log.warning("SRT listener of channel %s: %s", ep.channel_id, self.last_message)
            await asyncio.sleep(backoff.next_delay())

    async def _relay(self, child: Child) -> None:
        while data := await child.stdout.read(256 * 1024):
            if self._feed is None:
                self._feed = PushFeed()
                self.publishes += 1
                log.info("SRT publish to channel %s", self.endpoint.channel_id)
                self.engine.push_connected(self.info, self._feed)
            self._feed.write(data)

    def rebind(self, info: ChannelInfo) -> None:
        """The channel changed but not its port or passphrase: keep the publisher, and hand
        its feed to the channel's new runner."""
        self.info = info
        if self._feed is not None:
            self.engine.push_connected(info, self._feed)

    def _close_feed(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            self.engine.push_disconnected(self.endpoint.channel_id, feed)


class SrtIngest:
    """The SRT listeners of this node, kept in step with the catalog by :meth:`sync`."""

    def __init__(self, engine: ChannelHost) -> None:
        self.engine = engine
        self.listeners: dict[int, SrtListener] = {}

    async def sync(
        self, channels: list[tuple[ChannelInfo, SrtEndpoint]], tenant_id: int | None
    ) -> None:
        """Listen for exactly ``channels`` (of ``tenant_id``, or of every tenant when None):
        new ones start, changed ones (port, passphrase) restart, gone ones stop."""
        wanted = {info.id: (info, ep) for info, ep in channels}
        for channel_id, listener in list(self.listeners.items()):
            if tenant_id is not None and listener.endpoint.tenant_id != tenant_id:
                continue
            entry = wanted.get(channel_id)
            if entry is None or entry[1] != listener.endpoint:
                del self.listeners[channel_id]
                await listener.stop()
            elif entry[0] != listener.info:
                listener.rebind(entry[0])
        for channel_id, (info, endpoint) in wanted.items():
            if channel_id not in self.listeners:
                listener = SrtListener(self.engine, info, endpoint)
                self.listeners[channel_id] = listener
                listener.start()

    def port_of(self, channel_id: int) -> int | None:
        listener = self.listeners.get(channel_id)
        return listener.endpoint.port if listener is not None else None

    async def stop(self) -> None:
        listeners, self.listeners = list(self.listeners.values()), {}
        await asyncio.gather(*(listener.stop() for listener in listeners))
