"""RTMP wire format, sans I/O: handshake sizes, chunk stream reassembly, AMF0, FLV tags.

Just what a publishing server needs (Adobe RTMP spec §5.3 chunking, §7.1 messages;
AMF0 spec): chunks in, whole messages out; command replies out as chunk bytes; media
messages re-framed as FLV tags for ffmpeg's ``-f flv -i pipe:0``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

HANDSHAKE_SIZE = 1536
SET_CHUNK_SIZE, ABORT, ACK, USER_CONTROL, WINDOW_ACK, PEER_BANDWIDTH = 1, 2, 3, 4, 5, 6
AUDIO, VIDEO, DATA_AMF0, COMMAND_AMF0 = 8, 9, 18, 20
FLV_HEADER = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"


class ProtocolError(ValueError):
    pass


@dataclass(slots=True)
class Message:
    type_id: int
    stream_id: int
    timestamp: int
    payload: bytes


@dataclass(slots=True)
class _ChunkStream:
    timestamp: int = 0
    delta: int = 0
    length: int = 0
    type_id: int = 0
    stream_id: int = 0
    extended: bool = False
    parts: list[bytes] = field(default_factory=list)
    received: int = 0


class ChunkReader:
    """Reassembles messages from the client's chunk stream."""

    def __init__(self) -> None:
        self.chunk_size = 128
        self._buf = bytearray()
        self._streams: dict[int, _ChunkStream] = {}

    def feed(self, data: bytes) -> list[Message]:
        self._buf += data
        out: list[Message] = []
        while True:
            consumed = self._one(out)
            if consumed == 0:
                return out
            del self._buf[:consumed]

    def _one(self, out: list[Message]) -> int:
        buf = self._buf
        if not buf:
            return 0
        fmt, csid, pos = buf[0] >> 6, buf[0] & 0x3F, 1
        if csid == 0:
            if len(buf) < 2:
                return 0
            csid, pos = 64 + buf[1], 2
        elif csid == 1:
            if len(buf) < 3:
                return 0
            csid, pos = 64 + buf[1] + buf[2] * 256, 3
        cs = self._streams.setdefault(csid, _ChunkStream())
        sizes = (11, 7, 3, 0)
        if len(buf) < pos + sizes[fmt]:
            return 0
        ts = cs.timestamp
        new_message = not cs.parts and cs.received == 0
        if fmt <= 2:
            field_ts = int.from_bytes(buf[pos : pos + 3], "big")
            extended = field_ts == 0xFFFFFF
            if fmt <= 1:
                length = int.from_bytes(buf[pos + 3 : pos + 6], "big")
                type_id = buf[pos + 6]
            pos += sizes[fmt]
            if fmt == 0:
                stream_id = int.from_bytes(buf[pos - 4 : pos], "little")
        else:
            extended = cs.extended
        if extended:
            if len(buf) < pos + 4:
                return 0
            field_ts = int.from_bytes(buf[pos : pos + 4], "big")
            pos += 4
        if fmt <= 1:
            cs.length, cs.type_id = length, type_id
        if fmt == 0:
            cs.stream_id = stream_id
        remaining = cs.length - cs.received
        take = min(remaining, self.chunk_size)
        if len(buf) < pos + take:
            return 0
        # Commit the header only now that the whole chunk is here.
        cs.extended = extended
        if fmt == 0:
            ts = field_ts
            cs.delta = 0
        elif fmt in (1, 2):
            cs.delta = field_ts
            ts = cs.timestamp + field_ts
        elif new_message:
            ts = cs.timestamp + cs.delta
        cs.timestamp = ts
        cs.parts.append(bytes(buf[pos : pos + take]))
        cs.received += take
        if cs.received >= cs.length:
            payload = b"".join(cs.parts)
            cs.parts, cs.received = [], 0
            if cs.type_id == SET_CHUNK_SIZE and len(payload) >= 4:
                self.chunk_size = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
                if not 1 <= self.chunk_size <= 0xFFFFFF:
                    raise ProtocolError("bad chunk size")
            out.append(Message(cs.type_id, cs.stream_id, ts & 0xFFFFFFFF, payload))
        return pos + take


def write_message(
    csid: int, type_id: int, stream_id: int, payload: bytes, chunk_size: int = 128
) -> bytes:
    """A message as fmt-0 then fmt-3 chunks (server to client)."""
    head = bytes([csid]) + b"\x00\x00\x00" + len(payload).to_bytes(3, "big")
    head += bytes([type_id]) + stream_id.to_bytes(4, "little")
    parts = [head, payload[:chunk_size]]
    for i in range(chunk_size, len(payload), chunk_size):
        parts += [bytes([0xC0 | csid]), payload[i : i + chunk_size]]
    return b"".join(parts)


# ---- AMF0 ----


def amf_encode(value: Any) -> bytes:
    if value is None:
        return b"\x05"
    if isinstance(value, bool):
        return b"\x01" + (b"\x01" if value else b"\x00")
    if isinstance(value, int | float):
        return b"\x00" + struct.pack(">d", float(value))
    if isinstance(value, str):
        raw = value.encode()
        return b"\x02" + len(raw).to_bytes(2, "big") + raw
    if isinstance(value, dict):
        body = b"".join(
            len(k.encode()).to_bytes(2, "big") + k.encode() + amf_encode(v)
            for k, v in value.items()
        )
        return b"\x03" + body + b"\x00\x00\x09"
    raise TypeError(f"cannot encode {type(value)} in AMF0")


def amf_decode_all(data: bytes) -> list[Any]:
    values, pos = [], 0
    while pos < len(data):
        value, pos = _amf_value(data, pos)
        values.append(value)
    return values


def _amf_value(data: bytes, pos: int) -> tuple[Any, int]:
    try:
        marker = data[pos]
        pos += 1
        if marker == 0x00:
            return struct.unpack(">d", data[pos : pos + 8])[0], pos + 8
        if marker == 0x01:
            return data[pos] != 0, pos + 1
        if marker == 0x02:
            n = int.from_bytes(data[pos : pos + 2], "big")
            return data[pos + 2 : pos + 2 + n].decode("utf-8", "replace"), pos + 2 + n
        if marker in (0x03, 0x08):
            if marker == 0x08:
                pos += 4
            obj: dict[str, Any] = {}
            while data[pos : pos + 3] != b"\x00\x00\x09":
                n = int.from_bytes(data[pos : pos + 2], "big")
                key = data[pos + 2 : pos + 2 + n].decode("utf-8", "replace")
                obj[key], pos = _amf_value(data, pos + 2 + n)
            return obj, pos + 3
        if marker in (0x05, 0x06):
            return None, pos
        if marker == 0x0A:
            count = int.from_bytes(data[pos : pos + 4], "big")
            pos += 4
            items = []
            for _ in range(count):
                item, pos = _amf_value(data, pos)
                items.append(item)
            return items, pos
        if marker == 0x0B:
            return struct.unpack(">d", data[pos : pos + 8])[0], pos + 10
    except (IndexError, struct.error) as exc:
        raise ProtocolError("truncated AMF0") from exc
    raise ProtocolError(f"unsupported AMF0 marker {marker}")


# ---- FLV ----


def flv_tag(type_id: int, timestamp: int, data: bytes) -> bytes:
    """One FLV tag plus its PreviousTagSize (FLV spec E.4)."""
    ts = timestamp & 0xFFFFFFFF
    head = bytes([type_id]) + len(data).to_bytes(3, "big")
    head += (ts & 0xFFFFFF).to_bytes(3, "big") + bytes([ts >> 24]) + b"\x00\x00\x00"
    return head + data + (11 + len(data)).to_bytes(4, "big")


def strip_set_data_frame(payload: bytes) -> bytes:
    """``@setDataFrame, onMetaData, {...}`` as sent over RTMP, minus the first string."""
    marker = b"\x02\x00\x0d@setDataFrame"
    return payload[len(marker) :] if payload.startswith(marker) else payload


def is_sequence_header(type_id: int, data: bytes) -> bool:
    """AVC/HEVC decoder configuration or AAC AudioSpecificConfig (replayed to new readers)."""
    if len(data) < 2:
        return False
    if type_id == VIDEO:
        return data[0] & 0x0F in (7, 12) and data[1] == 0
    if type_id == AUDIO:
        return data[0] >> 4 == 10 and data[1] == 0
    return False
