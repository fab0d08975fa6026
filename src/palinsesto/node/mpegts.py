"""MPEG-TS parsing and keyframe-aligned chunking, sans I/O (bytes in, values out).

Only what packaging needs: 188-byte packets, the PAT and PMT (to find the video PID and
keep the tables a new viewer must get first), video PES starts with their PTS, and whether
a PES starts a keyframe: the adaptation field's ``random_access_indicator`` (ffmpeg sets it
on key frames) or, failing that, an H.264 IDR/SPS or HEVC IRAP NAL unit in the payload.
"""

from __future__ import annotations

from dataclasses import dataclass

PACKET_SIZE = 188
SYNC_BYTE = 0x47
PAT_PID = 0x0000
VIDEO_STREAM_TYPES = {0x01, 0x02, 0x10, 0x1B, 0x24}  # MPEG-1/2, MPEG-4, H.264, HEVC
H264, HEVC = 0x1B, 0x24


@dataclass(frozen=True, slots=True)
class TsChunk:
    """A run of whole TS packets, shared by every viewer; ``keyframe`` if it starts one."""

    seq: int
    data: bytes
    keyframe: bool
    pts: float | None  # PTS (seconds) of the first video PES starting in the chunk
    starts_with_psi: bool


@dataclass(frozen=True, slots=True)
class PacketInfo:
    pid: int
    payload_unit_start: bool
    random_access: bool
    payload: bytes


def parse_packet(packet: bytes) -> PacketInfo:
    """Header fields of one 188-byte packet. Raises ValueError if it is not one."""
    if len(packet) != PACKET_SIZE or packet[0] != SYNC_BYTE:
        raise ValueError("not an MPEG-TS packet")
    pusi = bool(packet[1] & 0x40)
    pid = ((packet[1] & 0x1F) << 8) | packet[2]
    afc = (packet[3] >> 4) & 0x3
    offset = 4
    random_access = False
    if afc & 0x2:
        length = packet[4]
        if length > 0:
            random_access = bool(packet[5] & 0x40)
        offset = 5 + length
    payload = packet[offset:] if afc & 0x1 and offset < PACKET_SIZE else b""
    return PacketInfo(pid, pusi, random_access, payload)


def _section(payload: bytes) -> bytes:
    """The PSI section after the pointer field (first packet of a section only)."""
    if not payload:
        return b""
    start = 1 + payload[0]
    return payload[start:]


def parse_pat(payload: bytes) -> list[int]:
    """PMT PIDs listed in a PAT section (program 0, the network PID, skipped)."""
    sec = _section(payload)
    if len(sec) < 8 or sec[0] != 0x00:
        return []
    length = ((sec[1] & 0x0F) << 8) | sec[2]
    end = min(3 + length - 4, len(sec))
    pids = []
    for i in range(8, end - 3, 4):
        program = (sec[i] << 8) | sec[i + 1]
        if program != 0:
            pids.append(((sec[i + 2] & 0x1F) << 8) | sec[i + 3])
    return pids


def parse_pmt(payload: bytes) -> list[tuple[int, int]]:
    """(stream_type, elementary PID) pairs of a PMT section."""
    sec = _section(payload)
    if len(sec) < 12 or sec[0] != 0x02:
        return []
    length = ((sec[1] & 0x0F) << 8) | sec[2]
    end = min(3 + length - 4, len(sec))
    info_len = ((sec[10] & 0x0F) << 8) | sec[11]
    i = 12 + info_len
    streams = []
    while i + 5 <= end:
        stream_type = sec[i]
        pid = ((sec[i + 1] & 0x1F) << 8) | sec[i + 2]
        es_info = ((sec[i + 3] & 0x0F) << 8) | sec[i + 4]
        streams.append((stream_type, pid))
        i += 5 + es_info
    return streams


def pes_pts(payload: bytes) -> float | None:
    """The PTS of a PES header at the start of ``payload``, in seconds."""
    if len(payload) < 14 or payload[0:3] != b"\x00\x00\x01" or not payload[7] & 0x80:
        return None
    p = payload[9:14]
    ticks = ((p[0] >> 1) & 0x07) << 30 | p[1] << 22 | (p[2] >> 1) << 15 | p[3] << 7 | (p[4] >> 1)
    return ticks / 90_000


def has_key_nal(payload: bytes, stream_type: int) -> bool:
    """Whether the PES payload's first packet holds an IDR/SPS (H.264) or IRAP/VPS (HEVC)."""
    if len(payload) < 9 or payload[0:3] != b"\x00\x00\x01":
        return False
    data = payload[9 + payload[8] :]
    i = data.find(b"\x00\x00\x01")
    while 0 <= i < len(data) - 3:
        header = data[i + 3]
        if stream_type == HEVC:
            if 16 <= (header >> 1) & 0x3F <= 21 or (header >> 1) & 0x3F == 32:
                return True
        elif header & 0x1F in (5, 7):
            return True
        i = data.find(b"\x00\x00\x01", i + 3)
    return False


class TsChunker:
    """Cuts a TS byte stream into chunks that start at keyframes or reach ``max_bytes``.

    Feed it whatever the pipe returned; it keeps partial packets, re-synchronises on the
    sync byte after garbage, remembers the latest PAT and PMT packets (:attr:`psi`), and
    moves the PAT/PMT that precede a keyframe into the keyframe's chunk, so a chunk that
    starts a keyframe is a valid place to start decoding.
    """

    def __init__(self, max_bytes: int = 64 * 1024) -> None:
        self.max_bytes = max_bytes - max_bytes % PACKET_SIZE
        self._rest = b""
        self._packets: list[bytes] = []
        self._size = 0
        self._keyframe = False
        self._pts: float | None = None
        self._seq = 0
        self._pmt_pids: set[int] = set()
        self._video_pid: int | None = None
        self._video_type = 0
        self._pat = b""
        self._pmt = b""
        self.resyncs = 0

    @property
    def psi(self) -> bytes:
        """The latest PAT followed by the latest PMT (empty until both were seen)."""
        return self._pat + self._pmt if self._pat and self._pmt else b""

    @property
    def pending_bytes(self) -> int:
        return self._size

    @property
    def video_pid(self) -> int | None:
        return self._video_pid

    def feed(self, data: bytes) -> list[TsChunk]:
        """Consume bytes; return the chunks completed by them."""
        buf = self._rest + data if self._rest else data
        out: list[TsChunk] = []
        pos, end = 0, len(buf)
        while end - pos >= PACKET_SIZE:
            if buf[pos] != SYNC_BYTE:
                nxt = buf.find(b"\x47", pos + 1)
                self.resyncs += 1
                if nxt < 0:
                    pos = end
                    break
                pos = nxt
                continue
            packet = buf[pos : pos + PACKET_SIZE]
            pos += PACKET_SIZE
            self._packet(packet, out)
        self._rest = buf[pos:]
        return out

    def flush(self) -> TsChunk | None:
        """Emit what is pending (the caller's time limit on batching has passed)."""
        return self._emit()

    def _packet(self, packet: bytes, out: list[TsChunk]) -> None:
        info = parse_packet(packet)
        is_psi = info.pid == PAT_PID or info.pid in self._pmt_pids
        if info.pid == PAT_PID and info.payload_unit_start:
            pids = parse_pat(info.payload)
            if pids:
                self._pat = packet
                self._pmt_pids = set(pids)
        elif info.pid in self._pmt_pids and info.payload_unit_start:
            streams = parse_pmt(info.payload)
            if streams:
                self._pmt = packet
                video = [(t, p) for t, p in streams if t in VIDEO_STREAM_TYPES]
                if video:
                    self._video_type, self._video_pid = video[0]
        elif info.pid == self._video_pid and info.payload_unit_start:
            key = info.random_access or has_key_nal(info.payload, self._video_type)
            pts = pes_pts(info.payload)
            if key:
                # Carry the PAT/PMT just before the keyframe into the keyframe's chunk.
                carried: list[bytes] = []
                while self._packets and self._is_psi_packet(self._packets[-1]):
                    carried.insert(0, self._packets.pop())
                    self._size -= PACKET_SIZE
                chunk = self._emit()
                if chunk is not None:
                    out.append(chunk)
                self._packets, self._size = carried, len(carried) * PACKET_SIZE
                self._keyframe = True
            if self._pts is None:
                self._pts = pts
        self._packets.append(packet)
        self._size += PACKET_SIZE
        if self._size >= self.max_bytes and not is_psi:
            chunk = self._emit()
            if chunk is not None:
                out.append(chunk)

    def _is_psi_packet(self, packet: bytes) -> bool:
        pid = ((packet[1] & 0x1F) << 8) | packet[2]
        return pid == PAT_PID or pid in self._pmt_pids

    def _emit(self) -> TsChunk | None:
        if not self._packets:
            return None
        data = b"".join(self._packets)
        starts_with_psi = self._is_psi_packet(self._packets[0])
        chunk = TsChunk(self._seq, data, self._keyframe, self._pts, starts_with_psi)
        self._seq += 1
        self._packets, self._size = [], 0
        self._keyframe, self._pts = False, None
        return chunk
