"""The streaming XMLTV reader on generated real-world-shaped documents and hostile ones."""

from __future__ import annotations

import calendar
import gzip
import lzma

import pytest

from palinsesto.epg.xmltv_reader import (
    ChannelEntry,
    MalformedXmltv,
    ProgrammeEntry,
    ReaderLimits,
    Skipped,
    UnsafeXmltv,
    XmltvReader,
    XmltvTooLarge,
)
from support.xmltv_docs import (
    BILLION_LAUGHS,
    GuideSpec,
    channel_id,
    programme_count,
    programme_desc,
    programme_title,
    xmltv_bytes,
)

NOW = calendar.timegm((2026, 3, 1, 0, 0, 0))


def read(data: bytes, piece: int = 4096, **kwargs: object) -> list[object]:
    reader = XmltvReader(now=NOW, **kwargs)  # type: ignore[arg-type]
    out: list[object] = []
    for i in range(0, len(data), piece):
        out += reader.feed(data[i : i + piece])
    out += reader.close()
    return out


@pytest.mark.parametrize("compress", [None, gzip.compress, lzma.compress])
@pytest.mark.parametrize("encoding", ["utf-8", "ISO-8859-1", "windows-1252"])
def test_generated_guide_is_read_field_by_field(compress, encoding: str) -> None:
    spec = GuideSpec(channels=5, days=2, start=NOW - 3600, encoding=encoding, offset_minutes=-330)
    data = xmltv_bytes(spec)
    if compress:
        data = compress(data)
    entries = read(data, piece=1000)
    channels = [e for e in entries if isinstance(e, ChannelEntry)]
    programmes = [e for e in entries if isinstance(e, ProgrammeEntry)]
    assert [c.xmltv_id for c in channels] == [channel_id(spec, c) for c in range(5)]
    assert channels[2].display_name == "Canale CH 2 HD"
    assert channels[2].icon == "http://img.example/2.png"
    assert len(programmes) == programme_count(spec) == 5 * 72
    p = programmes[72 + 3]  # channel 1, programme 3
    assert p.channel == "ch1.example"
    assert p.start == NOW - 3600 + 3 * 2400 and p.stop == p.start + 2400
    assert p.title == programme_title(1, 3) and p.description == programme_desc(1, 3)
    assert p.lang == "it"
    assert not [e for e in entries if isinstance(e, Skipped)]


def test_entities_and_character_references() -> None:
    doc = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE tv SYSTEM "xmltv.dtd">\n<tv>'
        b'<programme start="20260301100000 +0000" stop="20260301110000 +0000" channel="a">'
        b"<title>Tom &amp; Jerry &#233;&#x00E8; &eacute;&nbsp;!</title>"
        b"<title lang='en'>second title ignored</title><desc>&lt;b&gt;</desc></programme></tv>"
    )
    (p,) = read(doc, piece=7)
    assert isinstance(p, ProgrammeEntry)
    assert p.title == "Tom & Jerry éè é\xa0!" and p.description == "<b>"


def test_skips_are_reported_with_reasons() -> None:
    def prog(start: str, stop: str | None, channel: str | None, title: str) -> str:
        attrs = f'start="{start}"' + (f' stop="{stop}"' if stop else "")
        attrs += f' channel="{channel}"' if channel is not None else ""
        return f"<programme {attrs}><title>{title}</title></programme>\n"

    day = "20260301"
    doc = (
        '<?xml version="1.0"?><tv>\n<channel id=""><display-name>No id</display-name></channel>\n'
        + prog(f"{day}100000 +0000", f"{day}110000 +0000", None, "no channel")
        + prog(f"{day}100000 +0000", f"{day}100000 +0000", "a", "zero")
        + prog(f"{day}100000 +0000", f"{day}090000 +0000", "a", "back")
        + prog("19990301100000 +0000", "19990301110000 +0000", "a", "old")
        + prog("21000301100000 +0000", "21000301110000 +0000", "a", "far")
        + prog(f"{day}100000 +0000", "20260320110000 +0000", "a", "long")
        + prog("20261301100000 +0000", f"{day}110000 +0000", "a", "month 13")
        + prog(f"{day}120000 +0000", f"{day}130000 +0000", "a", "")
        + prog(f"{day}130000 +0000", None, "b", "open ended, closed by next")
        + prog(f"{day}140000 +0000", None, "b", "open ended, last")
        + "</tv>"
    ).encode()
    entries = read(doc, piece=50)
    skipped = [(e.reason, e.channel) for e in entries if isinstance(e, Skipped)]
    assert skipped == [
        ("channel without id", ""),
        ("missing channel", ""),
        ("stop not after start", "a"),
        ("stop not after start", "a"),
        ("date out of range", "a"),
        ("date out of range", "a"),
        ("absurd duration", "a"),
        ("unreadable time", "a"),
        ("missing title", "a"),
        ("no stop time", "b"),
    ]
    (kept,) = [e for e in entries if isinstance(e, ProgrammeEntry)]
    assert kept.title == "open ended, closed by next"
    assert kept.stop == NOW + 14 * 3600
    assert all(e.line > 0 for e in entries if isinstance(e, Skipped) and e.channel == "a")


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    with pytest.raises(UnsafeXmltv, match="entity"):
        read(BILLION_LAUGHS)


def test_external_entity_is_refused() -> None:
    doc = (
        b'<?xml version="1.0"?><!DOCTYPE tv [<!ENTITY x SYSTEM "file:///etc/passwd">]><tv>&x;</tv>'
    )
    with pytest.raises(UnsafeXmltv):
        read(doc)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<tv><programme></tv>", "not well-formed"),
        (b"", "no XML element|empty"),
        (b"<html><body>502 Bad Gateway</body></html>", "not XMLTV"),
        (b'<?xml version="1.0" encoding="klingon-8"?><tv/>', "unknown character encoding"),
        (gzip.compress(b"<tv>" + b"<channel id='a'/>" * 5000 + b"</tv>")[:-30], "truncated"),
        (lzma.compress(b"<tv>" + b"<channel id='a'/>" * 5000 + b"</tv>")[:-30], "truncated"),
        (b"\x1f\x8b\x08\x00garbage-not-deflate", "gzip stream is damaged"),
    ],
)
def test_malformed_documents_fail_clearly(data: bytes, message: str) -> None:
    with pytest.raises(MalformedXmltv, match=message):
        read(data)


def test_decompressed_size_is_limited() -> None:
    bomb = gzip.compress(b"<tv>" + b" " * 5_000_000 + b"</tv>")
    assert len(bomb) < 10_000
    with pytest.raises(XmltvTooLarge, match="1,000,000 bytes"):
        read(bomb, limits=ReaderLimits(max_bytes=1_000_000))


def test_memory_stays_flat_on_a_big_document() -> None:
    import tracemalloc

    spec = GuideSpec(channels=40, days=7, start=NOW)
    data = gzip.compress(xmltv_bytes(spec))
    reader = XmltvReader(now=NOW)
    tracemalloc.start()
    count = 0
    for i in range(0, len(data), 65536):
        count += sum(isinstance(e, ProgrammeEntry) for e in reader.feed(data[i : i + 65536]))
    count += sum(isinstance(e, ProgrammeEntry) for e in reader.close())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == programme_count(spec) == 10_080
    # The document unpacks to ~4 MB and yields 10,080 entries; none of it is kept.
    assert peak < 2 * 1024 * 1024, peak


def _one_programme(title: str = "T", desc: str = "", channel: str = "a") -> bytes:
    return (
        f'<tv><programme start="20260301100000 +0000" stop="20260301110000 +0000" '
        f'channel="{channel}"><title>{title}</title><desc>{desc}</desc></programme></tv>'
    ).encode()


def test_long_text_is_cut_to_its_stored_size() -> None:
    limits = ReaderLimits(max_title_chars=10, max_desc_chars=20)
    (p,) = read(_one_programme("t" * 500, "d" * 5000), piece=64, limits=limits)
    assert isinstance(p, ProgrammeEntry)
    assert p.title == "t" * 10 and p.description == "d" * 20


def test_a_giant_text_element_refuses_the_document_with_flat_memory() -> None:
    import tracemalloc

    head = b'<tv><programme start="20260301100000 +0000" stop="20260301110000 +0000" channel="a">'
    reader = XmltvReader(now=NOW, limits=ReaderLimits(max_element_chars=1_000_000))
    tracemalloc.start()
    with pytest.raises(XmltvTooLarge, match=r"<desc> at line 1 holds more than 1,000,000"):
        list(reader.feed(head + b"<title>x</title><desc>"))
        for _ in range(100):  # up to 100 MB of one description
            list(reader.feed(b"A" * 1_000_000))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, peak


def test_a_giant_attribute_is_refused() -> None:
    reader = XmltvReader(now=NOW, limits=ReaderLimits(max_token_bytes=2_000_000))
    with pytest.raises(XmltvTooLarge, match="XML token .* longer than 2,000,000 bytes"):
        list(reader.feed(b'<tv><channel id="'))
        for _ in range(100):
            list(reader.feed(b"i" * 100_000))


def test_programmes_per_channel_and_channel_ids_are_bounded() -> None:
    many = b"".join(
        f'<programme start="202603011{i:01d}0000 +0000" stop="202603011{i:01d}3000 +0000" '
        f'channel="a"><title>P{i}</title></programme>'.encode()
        for i in range(4)
    )
    with pytest.raises(XmltvTooLarge, match="channel 'a' has more than 3 programmes"):
        read(b"<tv>" + many + b"</tv>", limits=ReaderLimits(max_programmes_per_channel=3))
    entries = read(_one_programme(channel="c" * 300))
    assert [(e.reason, e.channel) for e in entries] == [("channel id too long", "c" * 60)]  # type: ignore[attr-defined]


def test_text_the_guide_does_not_keep_is_bounded_too() -> None:
    head = b'<tv><programme start="20260301100000 +0000" channel="a"><title>x</title><premiere>'
    reader = XmltvReader(now=NOW, limits=ReaderLimits(max_element_chars=1_000_000))
    with pytest.raises(XmltvTooLarge, match="element near line 1 holds more than 1,000,000"):
        list(reader.feed(head))
        for _ in range(20):
            list(reader.feed(b"C" * 100_000))


def test_kept_detail_text_is_bounded_like_title_and_desc() -> None:
    head = b'<tv><programme start="20260301100000 +0000" channel="a"><title>x</title><category>'
    reader = XmltvReader(now=NOW, limits=ReaderLimits(max_element_chars=1_000_000))
    with pytest.raises(XmltvTooLarge, match="the <category> at line 1 holds more than"):
        list(reader.feed(head))
        for _ in range(20):
            list(reader.feed(b"C" * 100_000))
