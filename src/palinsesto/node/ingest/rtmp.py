"""RTMP push ingest: one port for every channel, each with its own secret stream key.

OBS and ffmpeg publish to ``rtmp://node:1935/live`` with the stream key as the stream name
(``rtmp://node:1935/live/KEY`` in one URL). ``publish(KEY)`` looks the channel up by its
key; a wrong key gets ``NetStream.Publish.BadName`` and the connection is closed (logged).
The media becomes FLV tags fed to the channel's ffmpeg stdin via a :class:`PushFeed`, so a
pushed feed is one more source of the channel, with failover like any other. Rotating
the key (the admin API edits ``Channel.stream_key``) refuses the old key from then on and,
through the ``channels`` change event, cuts a publisher still connected with it
(:meth:`RtmpIngest.publishers_of`, :meth:`Publisher.cut`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

from palinsesto.node.channel import PushFeed
from palinsesto.node.ingest.rtmp_wire import (
    AUDIO,
    COMMAND_AMF0,
    DATA_AMF0,
    FLV_HEADER,
    HANDSHAKE_SIZE,
    PEER_BANDWIDTH,
    SET_CHUNK_SIZE,
    VIDEO,
    WINDOW_ACK,
    ChunkReader,
    ProtocolError,
    amf_decode_all,
    amf_encode,
    flv_tag,
    is_sequence_header,
    strip_set_data_frame,
    write_message,
)

if TYPE_CHECKING:
    from palinsesto.node.host import ChannelHost

log = logging.getLogger(__name__)
OUT_CHUNK = 4096


class RtmpIngest:
    def __init__(self, engine: ChannelHost) -> None:
        self.engine = engine
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.publishers: set[Publisher] = set()
        self.refused = 0

    def publishers_of(self, tenant_id: int) -> list[Publisher]:
        """Publishers streaming now to channels of ``tenant_id``."""
        return [p for p in self.publishers if p.tenant_id == tenant_id]

    async def start(self, sock: socket.socket) -> int:
        """Serve publishers on the bound, listening ``sock``; returns its port."""
        self._server = await asyncio.start_server(self._client, sock=sock)
        return int(sock.getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        session = Publisher(self, writer)
        try:
            await session.run(reader)
        except (ConnectionError, asyncio.IncompleteReadError, ProtocolError) as exc:
            log.info("RTMP client %s: %s", session.peer, exc)
        finally:
            self._tasks.discard(task)
            session.finish()
            writer.close()


class Publisher:
    """One RTMP connection; once publishing, bound to a channel and the key it used."""

    def __init__(self, ingest: RtmpIngest, writer: asyncio.StreamWriter) -> None:
        self.ingest, self.writer = ingest, writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.feed: PushFeed | None = None
        self.header_tags: dict[str, bytes] = {}
        self.key = ""
        self.channel_id = 0
        self.tenant_id = 0

    def cut(self, reason: str) -> None:
        """Drop the connection now (rotated key, disabled channel)."""
        log.warning("RTMP publisher %s of channel %s cut: %s", self.peer, self.channel_id, reason)
        self.ingest.publishers.discard(self)
        self.writer.transport.abort()

    async def run(self, reader: asyncio.StreamReader) -> None:
        c0c1 = await reader.readexactly(1 + HANDSHAKE_SIZE)
        if c0c1[0] != 3:
            raise ProtocolError("unsupported RTMP version")
        # Simple handshake: a zero version in S1 tells clients not to expect a digest.
        s1 = b"\x00\x00\x00\x00\x00\x00\x00\x00" + os.urandom(HANDSHAKE_SIZE - 8)
        self.writer.write(b"\x03" + s1 + c0c1[1:])
        await reader.readexactly(HANDSHAKE_SIZE)  # C2
        chunks = ChunkReader()
        while True:
            data = await reader.read(65536)
            if not data:
                return
            for message in chunks.feed(data):
                if message.type_id == COMMAND_AMF0:
                    if not await self._command(amf_decode_all(message.payload)):
                        return
                elif message.type_id in (AUDIO, VIDEO, DATA_AMF0) and self.feed is not None:
                    self._media(message.type_id, message.timestamp, message.payload)

    def _send(self, csid: int, type_id: int, stream_id: int, payload: bytes) -> None:
        self.writer.write(write_message(csid, type_id, stream_id, payload, OUT_CHUNK))

    def _reply(self, name: str, txn: float, *values: Any, stream_id: int = 0) -> None:
        body = amf_encode(name) + amf_encode(txn) + b"".join(amf_encode(v) for v in values)
        self._send(3 if stream_id == 0 else 5, COMMAND_AMF0, stream_id, body)

    async def _command(self, values: list[Any]) -> bool:
        if not values or not isinstance(values[0], str):
            return True
        name = values[0]
        txn = values[1] if len(values) > 1 and isinstance(values[1], float) else 0.0
        if name == "connect":
            self._send(2, WINDOW_ACK, 0, (2_500_000).to_bytes(4, "big"))
            self._send(2, PEER_BANDWIDTH, 0, (2_500_000).to_bytes(4, "big") + b"\x02")
            self._send(2, SET_CHUNK_SIZE, 0, OUT_CHUNK.to_bytes(4, "big"))
            self._reply(
                "_result",
                txn,
                {"fmsVer": "FMS/3,0,1,123", "capabilities": 31.0},
                {
                    "level": "status",
                    "code": "NetConnection.Connect.Success",
                    "description": "Connection succeeded.",
                    "objectEncoding": 0.0,
                },
            )
        elif name == "createStream":
            self._reply("_result", txn, None, 1.0)
        elif name in ("releaseStream", "FCPublish"):
            self._reply("_result", txn, None, None)
        elif name == "publish":
            key = str(values[3]) if len(values) > 3 and values[3] is not None else ""
            key = key.split("?", 1)[0]
            feed = PushFeed()
            runner = await self.ingest.engine.publish_started(key, feed)
            if runner is None:
                self.ingest.refused += 1
                log.warning("RTMP publish from %s refused: wrong stream key", self.peer)
                self._reply(
                    "onStatus",
                    0.0,
                    None,
                    {
                        "level": "error",
                        "code": "NetStream.Publish.BadName",
                        "description": "Wrong stream key.",
                    },
                    stream_id=1,
                )
                await self.writer.drain()
                return False
            self.feed = feed
            feed.header = FLV_HEADER
            self.key, self.channel_id = key, runner.spec.channel_id
            self.tenant_id = runner.spec.tenant_id
            self.ingest.publishers.add(self)
            log.info("RTMP publish from %s to channel %s", self.peer, runner.spec.channel_id)
            self._reply(
                "onStatus",
                0.0,
                None,
                {
                    "level": "status",
                    "code": "NetStream.Publish.Start",
                    "description": "Publishing.",
                },
                stream_id=1,
            )
        elif name in ("deleteStream", "FCUnpublish", "closeStream"):
            return name != "deleteStream"
        await self.writer.drain()
        return True

    def _media(self, type_id: int, timestamp: int, payload: bytes) -> None:
        assert self.feed is not None
        if type_id == DATA_AMF0:
            tag = flv_tag(DATA_AMF0, 0, strip_set_data_frame(payload))
            self.header_tags["meta"] = tag
        else:
            tag = flv_tag(type_id, timestamp, payload)
            if is_sequence_header(type_id, payload):
                self.header_tags["video" if type_id == VIDEO else "audio"] = tag
        self.feed.header = FLV_HEADER + b"".join(
            self.header_tags[k] for k in ("meta", "video", "audio") if k in self.header_tags
        )
        # Everything also goes to the current reader; the header only serves later ones.
        self.feed.write(tag)

    def finish(self) -> None:
        self.ingest.publishers.discard(self)
        feed, self.feed = self.feed, None
        if feed is not None:
            with contextlib.suppress(Exception):
                self.ingest.engine.push_disconnected(self.channel_id, feed)
