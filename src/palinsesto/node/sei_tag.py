"""A per-session tag inside the H.264 of a TS viewer's stream, sans I/O: an SEI
``user_data_unregistered`` message (ITU-T H.264 D.1.6) in every keyframe it receives.

Cheap next to the A/B watermark (no encode: one or two packets rewritten per keyframe per
viewer) and exact, but only as long as the copy is not re-encoded. The SEI NAL goes right
after the access unit delimiter of the keyframe's PES, so decoders attach it to the picture
(ffmpeg shows it as "H.26[45] User Data Unregistered SEI message" frame side data).

The keyframe's first packet grows by the NAL's size, so it becomes two packets: the first
keeps the adaptation field (PCR, random access) and gets the ``discontinuity_indicator``,
with the continuity counter of the packet before it; the second, padded with adaptation
field stuffing, takes the original counter, so the packets after it stay continuous
(ISO/IEC 13818-1 2.4.3.5).
"""

from __future__ import annotations

from palinsesto.node.mpegts import PACKET_SIZE, SYNC_BYTE

TAG_UUID = bytes.fromhex("5b0c6a3e8f1d4c2a9e7b3d6f1a2c4e80")  # "this is a Palinsesto tag"
TAG_PREFIX = b"palinsesto-session:"
SEI_NAL_TYPE, USER_DATA_UNREGISTERED = 6, 5


def _escape(rbsp: bytes) -> bytes:
    """Emulation prevention (H.264 7.4.1): no 00 00 0x (x ≤ 3) inside a NAL unit."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def sei_nal(session_id: int) -> bytes:
    """The SEI NAL unit (with its start code) naming the viewer's session."""
    data = TAG_UUID + TAG_PREFIX + str(session_id).encode()
    rbsp = bytes([USER_DATA_UNREGISTERED, len(data)]) + data + b"\x80"
    return b"\x00\x00\x00\x01" + bytes([SEI_NAL_TYPE]) + _escape(rbsp)


def read_tags(data: bytes) -> list[int]:
    """Every session id tagged in ``data`` (a TS capture or raw H.264), in order. A tag cut off
    by the end of ``data`` is not read (its digits may be incomplete)."""
    found = []
    head = TAG_UUID + TAG_PREFIX
    start = data.find(head)
    while start >= 0:
        first = end = start + len(head)
        while end < len(data) and 0x30 <= data[end] <= 0x39 and end - first < 19:
            end += 1
        if first < end < len(data):
            found.append(int(data[first:end]))
        start = data.find(head, start + 1)
    return found


def _video_pes_start(packet: bytes) -> int | None:
    """Where a video PES header starts in ``packet`` (payload unit start), or None."""
    if packet[0] != SYNC_BYTE or not packet[1] & 0x40 or not packet[3] & 0x10:
        return None
    offset = 5 + packet[4] if packet[3] & 0x20 else 4
    if offset + 9 > PACKET_SIZE or packet[offset : offset + 3] != b"\x00\x00\x01":
        return None
    if not 0xE0 <= packet[offset + 3] <= 0xEF:
        return None
    return offset


def _split_packet(packet: bytes, pes: int, nal: bytes) -> bytes | None:
    """The two packets replacing the keyframe's first one, or None if it cannot be done."""
    es = pes + 9 + packet[pes + 8]
    if es + 6 > PACKET_SIZE or packet[es : es + 4] != b"\x00\x00\x00\x01":
        return None
    if packet[es + 4] & 0x1F != 9:  # no access unit delimiter first: put the SEI first
        insert = es
    else:
        follow = packet.find(b"\x00\x00\x01", es + 5)
        if follow < 0:
            return None
        insert = follow - 1 if packet[follow - 1] == 0 else follow
    has_af = bool(packet[3] & 0x20)
    if not has_af or packet[4] == 0:
        return None  # a keyframe's first packet carries an adaptation field (RAI, PCR)
    header = bytearray(packet[:pes])
    header[5] |= 0x80  # discontinuity_indicator: this packet repeats the previous counter
    cc = packet[3] & 0x0F
    header[3] = (header[3] & 0xF0) | ((cc - 1) & 0x0F)
    pes_header = bytearray(packet[pes:es])
    length = int.from_bytes(pes_header[4:6], "big")
    if length:
        grown = length + len(nal)
        pes_header[4:6] = (grown if grown <= 0xFFFF else 0).to_bytes(2, "big")
    body = bytes(pes_header) + packet[es:insert] + nal + packet[insert:]
    room = PACKET_SIZE - len(header)
    first, rest = bytes(header) + body[:room], body[room:]
    if not rest or len(rest) > PACKET_SIZE - 4 - 2:
        return None
    # The continuation: no payload unit start, the original counter, stuffing to 188.
    pid_hi = packet[1] & 0x1F
    stuffing = PACKET_SIZE - 4 - len(rest)
    head = bytes([SYNC_BYTE, pid_hi, packet[2], 0x30 | cc])
    adaptation = bytes([stuffing - 1]) + (
        b"\x00" + b"\xff" * (stuffing - 2) if stuffing > 1 else b""
    )
    return first + head + adaptation + rest


def tag_keyframe(data: bytes, nal: bytes) -> bytes:
    """``data`` (a run of TS packets starting a keyframe) with ``nal`` in the keyframe's
    first video PES; unchanged when no such PES start is found."""
    for pos in range(0, len(data) - PACKET_SIZE + 1, PACKET_SIZE):
        packet = data[pos : pos + PACKET_SIZE]
        pes = _video_pes_start(packet)
        if pes is None:
            continue
        replaced = _split_packet(packet, pes, nal)
        if replaced is None:
            return data
        return data[:pos] + replaced + data[pos + PACKET_SIZE :]
    return data
