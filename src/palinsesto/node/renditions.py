"""Splitting a watermarked channel's combined MPEG-TS into its two renditions, sans I/O.

ffmpeg writes both marked videos into one TS (node/ffmpeg.py: video A and video B, each in
its own program so each carries its PCR, and the audio once). A viewer must be able to
switch from one rendition to the other at any keyframe without its player noticing, so
both renditions come out looking like the same single-program stream: the same PAT and
PMT packets (built here, listing the video at A's PID and the audio), B's video moved to
A's PID, the audio and everything else copied to both. ffmpeg's own tables (two programs)
and its SDT are dropped.
"""

from __future__ import annotations

from palinsesto.node.mpegts import PACKET_SIZE, PAT_PID, SYNC_BYTE, parse_packet, parse_pat

SDT_PID = 0x11
PMT_PID = 0x1000
H264_STREAM, AAC_ADTS_STREAM = 0x1B, 0x0F


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = (crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def crc32_mpeg2(data: bytes) -> int:
    """The CRC of PSI sections (ISO/IEC 13818-1 annex A: MSB first, no final xor)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) ^ byte) & 0xFF]
    return crc


def _section_packet(pid: int, section: bytes, cc: int) -> bytes:
    """One packet holding a whole PSI section (with its CRC), padded with 0xFF."""
    body = section + crc32_mpeg2(section).to_bytes(4, "big")
    header = bytes([SYNC_BYTE, 0x40 | pid >> 8, pid & 0xFF, 0x10 | cc & 0x0F, 0x00])
    return (header + body).ljust(PACKET_SIZE, b"\xff")


def pat_section(program: int, pmt_pid: int) -> bytes:
    length = 5 + 4 + 4  # header rest, one program, CRC
    return bytes(
        [0x00, 0xB0 | length >> 8, length & 0xFF, 0x00, 0x01, 0xC1, 0x00, 0x00]
        + [program >> 8, program & 0xFF, 0xE0 | pmt_pid >> 8, pmt_pid & 0xFF]
    )


def pmt_section(program: int, pcr_pid: int, streams: list[tuple[int, int]]) -> bytes:
    """A PMT of (stream_type, PID) pairs, without descriptors."""
    entries = b"".join(bytes([t, 0xE0 | pid >> 8, pid & 0xFF, 0xF0, 0x00]) for t, pid in streams)
    length = 9 + len(entries) + 4
    head = [0x02, 0xB0 | length >> 8, length & 0xFF, program >> 8, program & 0xFF, 0xC1, 0, 0]
    return bytes(head + [0xE0 | pcr_pid >> 8, pcr_pid & 0xFF, 0xF0, 0x00]) + entries


def with_pid(packet: bytes, pid: int) -> bytes:
    return b"%c%c%c" % (packet[0], (packet[1] & 0xE0) | pid >> 8, pid & 0xFF) + packet[3:]


class RenditionSplitter:
    """Feed the combined TS as it comes; get the bytes of rendition A and of rendition B."""

    def __init__(self, video_a: int, video_b: int, audio: int) -> None:
        self.video_a, self.video_b = video_a, video_b
        self._pat = pat_section(1, PMT_PID)
        self._pmt = pmt_section(1, video_a, [(H264_STREAM, video_a), (AAC_ADTS_STREAM, audio)])
        self._psi_cc = 0
        self._dropped = {SDT_PID}  # ffmpeg's PMTs join once its PAT is read
        self._rest = b""
        self.resyncs = 0

    def _tables(self) -> bytes:
        cc = self._psi_cc
        self._psi_cc = (cc + 1) & 0x0F
        return _section_packet(PAT_PID, self._pat, cc) + _section_packet(PMT_PID, self._pmt, cc)

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        buf = self._rest + data if self._rest else data
        a: list[bytes] = []
        b: list[bytes] = []
        pos, end = 0, len(buf)
        video_a, video_b, dropped = self.video_a, self.video_b, self._dropped
        while end - pos >= PACKET_SIZE:
            if buf[pos] != SYNC_BYTE:
                nxt = buf.find(b"\x47", pos + 1)
                self.resyncs += 1
                pos = end if nxt < 0 else nxt
                continue
            packet = buf[pos : pos + PACKET_SIZE]
            pos += PACKET_SIZE
            pid = ((packet[1] & 0x1F) << 8) | packet[2]
            if pid == video_a:
                a.append(packet)
            elif pid == video_b:
                b.append(with_pid(packet, video_a))
            elif pid == PAT_PID:
                if packet[1] & 0x40:
                    dropped.update(parse_pat(parse_packet(packet).payload))
                    tables = self._tables()
                    a.append(tables)
                    b.append(tables)
            elif pid not in dropped:
                a.append(packet)
                b.append(packet)
        self._rest = buf[pos:]
        return b"".join(a), b"".join(b)
