"""A streaming XMLTV reader: document bytes in, channels, programmes and skips out.

Sans-I/O and constant memory: :meth:`XmltvReader.feed` takes any slice of the (possibly
gzip or xz compressed) document and returns the entries completed by it; nothing of the
document is kept once an entry is returned. The XML is read by expat with every entity
declaration refused and no DTD or external entity loaded, so an entity-expansion bomb
("billion laughs") or an external entity stops the import with a clear error instead of
eating memory.

Every text the reader keeps is bounded: a field longer than its stored size is cut, a
text element, an XML token or a channel's programme list beyond :class:`ReaderLimits`
refuses the document (a few kilobytes of gzip can unpack into one 400 MB ``<desc>``), so
memory stays flat whatever the document holds.

Entries the guide cannot use are returned as :class:`Skipped` with a reason (no channel,
stop not after start, a date out of range, an unreadable time), so the import can report
them; the document itself only fails when it is not XMLTV at all.
"""

from __future__ import annotations

import codecs
import html.entities
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any
from xml.parsers import expat

from palinsesto.epg.decompress import DecompressError, Decompressor, TooLarge
from palinsesto.epg.xmltv_time import BadTime, parse_xmltv_time
from palinsesto.panel.playback.programme_details import MAX_REPEATS, MAX_TEXT, ProgrammeDetails

DAY = 86_400
DEFAULT_MAX_BYTES = 2 * 1024**3


class XmltvError(Exception):
    """The document cannot be imported; the message says why, for the import record."""


class MalformedXmltv(XmltvError):
    """Not well-formed XML, an unknown encoding, or a damaged compressed stream."""


class UnsafeXmltv(XmltvError):
    """Entity declarations or external entities: refused (entity-expansion attacks)."""


class XmltvTooLarge(XmltvError):
    """Larger than the configured limit, declared or decompressed."""


@dataclass(frozen=True, slots=True)
class ReaderLimits:
    """What the reader accepts; dates are checked against ``now``."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_past_days: int = 400
    max_future_days: int = 400
    max_programme_hours: int = 7 * 24
    # Stored sizes: longer text is cut to these (the columns and the players' screens).
    max_title_chars: int = 1_000
    max_desc_chars: int = 10_000
    max_name_chars: int = 300
    max_id_chars: int = 200
    max_icon_chars: int = 1_000
    # Beyond these the document is refused: no real guide comes near them.
    max_element_chars: int = 1 << 20
    max_token_bytes: int = 8 << 20
    max_programmes_per_channel: int = 50_000
    max_channels: int = 100_000


class _Text:
    """The text of one element, kept up to ``keep`` characters and counted to ``limit``."""

    __slots__ = ("element", "keep", "limit", "parts", "kept", "total", "line")

    def __init__(self, element: str, keep: int, limit: int, line: int) -> None:
        self.element = element
        self.keep = keep
        self.limit = limit
        self.parts: list[str] = []
        self.kept = 0
        self.total = 0
        self.line = line

    def append(self, data: str) -> None:
        self.total += len(data)
        if self.total > self.limit:
            raise XmltvTooLarge(
                f"the <{self.element}> at line {self.line} holds more than {self.limit:,} "
                "characters; the document is refused (no programme guide has such text)"
            )
        if self.kept < self.keep:
            piece = data[: self.keep - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)

    def value(self) -> str:
        return "".join(self.parts).strip()


@dataclass(frozen=True, slots=True)
class ChannelEntry:
    xmltv_id: str
    display_name: str
    icon: str


@dataclass(frozen=True, slots=True)
class ProgrammeEntry:
    channel: str
    start: int
    stop: int
    title: str
    description: str
    lang: str
    details: ProgrammeDetails | None = None  # sub-title, categories, episode-num, rating


@dataclass(frozen=True, slots=True)
class Skipped:
    reason: str
    channel: str
    detail: str
    line: int


Entry = ChannelEntry | ProgrammeEntry | Skipped

_DECLARED_ENCODING = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
# Encodings expat reads itself; any other is decoded by Python and handed over as UTF-8.
_EXPAT_NATIVE = frozenset({"utf-8", "utf-16", "utf-16-le", "utf-16-be", "iso8859-1", "ascii"})
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass(slots=True)
class _Pending:
    """A programme being read (between its start and end tags)."""

    channel: str
    start_text: str
    stop_text: str
    line: int
    title: str | None = None
    description: str | None = None
    lang: str = ""
    # The extra elements (playback.programme_details), collected as they come.
    sub_title: tuple[str, str] | None = None
    desc_lang: str = ""
    categories: list[tuple[str, str]] = field(default_factory=list)
    episode_nums: list[tuple[str, str]] = field(default_factory=list)
    ratings: list[tuple[str, str]] = field(default_factory=list)
    # The element whose text is being read, with its lang/system attribute.
    reading: tuple[str, str] = ("", "")

    def details(self) -> ProgrammeDetails | None:
        sub_title, sub_lang = self.sub_title or ("", "")
        found = ProgrammeDetails(
            sub_title=sub_title,
            sub_title_lang=sub_lang,
            desc_lang=self.desc_lang if self.desc_lang != self.lang else "",
            categories=tuple(self.categories),
            episode_nums=tuple(self.episode_nums),
            ratings=tuple(self.ratings),
        )
        return found if found != _NO_DETAILS else None


_NO_DETAILS = ProgrammeDetails()
# Programme children kept besides title and desc, and the attribute that labels each.
_DETAIL_ELEMENTS = {"sub-title": "lang", "category": "lang", "episode-num": "system"}


class XmltvReader:
    """Feed bytes of an XMLTV document, get :data:`Entry` values back."""

    def __init__(
        self, *, now: int, default_zone: tzinfo = UTC, limits: ReaderLimits | None = None
    ) -> None:
        self.limits = limits or ReaderLimits()
        self.default_zone = default_zone
        self.earliest = now - self.limits.max_past_days * DAY
        self.latest = now + self.limits.max_future_days * DAY
        self.longest = self.limits.max_programme_hours * 3600
        self.programme_elements = 0
        self._decompressor = Decompressor(self.limits.max_bytes)
        self._parser: Any = None
        self._transcoder: codecs.IncrementalDecoder | None = None
        self._head = b""
        self._out: list[Entry] = []
        self._text: _Text | None = None
        # Document bytes handed to expat since its last callback: expat holds an unfinished
        # token (a start tag with a huge attribute, a comment) whole in memory.
        self._quiet_bytes = 0
        self._loose_chars = 0  # text outside a kept field, since the last tag
        self._per_channel: dict[str, int] = {}
        self._channels_seen = 0
        self._programme: _Pending | None = None
        self._channel: dict[str, str] | None = None
        # A programme without ``stop`` ends where the next one of its channel starts.
        self._open_ended: dict[str, ProgrammeEntry] = {}
        self._saw_root = False

    @property
    def kind(self) -> str:
        """``plain``, ``gzip`` or ``xz`` once the first bytes were read."""
        return self._decompressor.kind

    @property
    def document_bytes(self) -> int:
        return self._decompressor.output_bytes

    def feed(self, data: bytes) -> Iterator[Entry]:
        """Entries completed by ``data``, yielded as each decompressed piece is parsed (so a
        highly compressed chunk never piles up). Raises :class:`XmltvError` subclasses."""
        try:
            for piece in self._decompressor.feed(data):
                self._parse(piece, final=False)
                yield from self._drain()
        except TooLarge as exc:
            raise XmltvTooLarge(str(exc)) from exc
        except DecompressError as exc:
            raise MalformedXmltv(str(exc)) from exc

    def close(self) -> Iterator[Entry]:
        """The last entries; raises if the document was incomplete."""
        try:
            for piece in self._decompressor.close():
                self._parse(piece, final=False)
                yield from self._drain()
        except TooLarge as exc:
            raise XmltvTooLarge(str(exc)) from exc
        except DecompressError as exc:
            raise MalformedXmltv(str(exc)) from exc
        self._parse(b"", final=True)
        if not self._saw_root:
            raise MalformedXmltv("the document has no <tv> root element: not XMLTV")
        for entry in self._open_ended.values():
            self._skip("no stop time", entry.channel, "last programme of its channel has no stop")
        self._open_ended.clear()
        yield from self._drain()

    def _drain(self) -> list[Entry]:
        out, self._out = self._out, []
        return out

    # -- expat plumbing -------------------------------------------------------------------

    def _parse(self, data: bytes, *, final: bool) -> None:
        if self._parser is None:
            self._head += data
            if len(self._head) < 1024 and not final:
                return
            data, self._head = self._head, b""
            self._parser = self._make_parser(data)
        if self._transcoder is not None:
            data = self._transcoder.decode(data, final).encode("utf-8")
        self._quiet_bytes += len(data)
        try:
            self._parser.Parse(data, final)
        except expat.ExpatError as exc:
            message = expat.errors.messages.get(exc.code, str(exc))
            if exc.code == expat.errors.codes.get(expat.errors.XML_ERROR_NO_ELEMENTS) and (
                not self._saw_root
            ):
                raise MalformedXmltv("the document is empty: no XML element") from exc
            raise MalformedXmltv(
                f"not well-formed XML at line {exc.lineno}, column {exc.offset}: {message}"
            ) from exc
        if self._quiet_bytes > self.limits.max_token_bytes:
            raise XmltvTooLarge(
                f"an XML token near line {self._parser.CurrentLineNumber} is longer than "
                f"{self.limits.max_token_bytes:,} bytes; the document is refused"
            )

    def _make_parser(self, head: bytes) -> Any:
        encoding = None
        if not head.startswith(_BOMS):
            declared = _DECLARED_ENCODING.search(head[:400])
            if declared:
                name = declared.group(1).decode("ascii")
                try:
                    codec = codecs.lookup(name)
                except LookupError as exc:
                    raise MalformedXmltv(f"unknown character encoding {name!r}") from exc
                if codec.name not in _EXPAT_NATIVE:
                    self._transcoder = codec.incrementaldecoder("replace")
                    encoding = "UTF-8"  # overrides the declaration: we hand expat UTF-8
        parser = expat.ParserCreate(encoding)
        parser.buffer_text = True
        parser.buffer_size = 1 << 16
        # No DTD is read and no entity may be declared (reference: XML bombs).
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.EntityDeclHandler = self._refuse_entity
        parser.UnparsedEntityDeclHandler = self._refuse_unparsed
        parser.ExternalEntityRefHandler = self._refuse_external
        parser.SkippedEntityHandler = self._skipped_entity
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._chars
        return parser

    def _refuse_entity(self, name: str, *_args: Any) -> None:
        raise UnsafeXmltv(
            f"the document declares the entity {name!r}; entity declarations are refused "
            "(they allow entity-expansion attacks such as 'billion laughs')"
        )

    def _refuse_unparsed(self, name: str, *_args: Any) -> None:
        self._refuse_entity(name)

    def _refuse_external(self, *_args: Any) -> int:
        raise UnsafeXmltv("the document refers to an external entity; refused")

    def _skipped_entity(self, name: str, is_parameter: int) -> None:
        # With a DOCTYPE naming an external DTD, expat leaves undeclared entities to us:
        # feeds use HTML ones (&nbsp; &eacute;) as if xmltv.dtd declared them.
        self._quiet_bytes = 0
        if self._text is not None and not is_parameter:
            codepoint = html.entities.name2codepoint.get(name)
            self._text.append(chr(codepoint) if codepoint else f"&{name};")

    def _chars(self, data: str) -> None:
        self._quiet_bytes = 0
        if self._text is not None:
            self._text.append(data)
            return
        # Text the guide does not keep (<category>, <credits>, stray text) is bounded too.
        self._loose_chars += len(data)
        if self._loose_chars > self.limits.max_element_chars:
            raise XmltvTooLarge(
                f"an element near line {self._parser.CurrentLineNumber} holds more than "
                f"{self.limits.max_element_chars:,} characters; the document is refused"
            )

    def _capture(self, element: str, keep: int) -> None:
        """Collect the text of ``element`` (its stored size ``keep``) until its end tag."""
        line = self._parser.CurrentLineNumber
        self._text = _Text(element, keep, self.limits.max_element_chars, line)

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        self._quiet_bytes = self._loose_chars = 0
        if name == "programme":
            self.programme_elements += 1
            self._programme = _Pending(
                channel=attrs.get("channel", "").strip(),
                start_text=attrs.get("start", ""),
                stop_text=attrs.get("stop", ""),
                line=self._parser.CurrentLineNumber,
            )
        elif self._programme is not None:
            programme = self._programme
            if name == "title" and programme.title is None:
                self._capture(name, self.limits.max_title_chars)
                programme.lang = attrs.get("lang", "")[:16]
            elif name == "desc" and programme.description is None:
                self._capture(name, self.limits.max_desc_chars)
                programme.desc_lang = attrs.get("lang", "")[:16]
            elif name in _DETAIL_ELEMENTS:
                self._capture(name, MAX_TEXT)
                programme.reading = (name, attrs.get(_DETAIL_ELEMENTS[name], "")[:64])
            elif name == "rating":
                programme.reading = ("rating", attrs.get("system", "")[:64])
            elif name == "value" and programme.reading[0] == "rating":
                self._capture(name, MAX_TEXT)
        elif name == "channel":
            self._channel = {"id": attrs.get("id", "").strip(), "name": "", "icon": ""}
        elif self._channel is not None:
            if name == "display-name" and not self._channel["name"]:
                self._capture(name, self.limits.max_name_chars)
            elif name == "icon" and not self._channel["icon"]:
                self._channel["icon"] = attrs.get("src", "")[: self.limits.max_icon_chars]
        elif name == "tv":
            self._saw_root = True
        elif not self._saw_root:
            raise MalformedXmltv(f"the root element is <{name}>, not <tv>: not XMLTV")

    def _end(self, name: str) -> None:
        self._quiet_bytes = self._loose_chars = 0
        programme = self._programme
        if programme is not None:
            if name == "programme":
                self._programme = None
                self._finish_programme(programme)
            elif self._text is not None and name in ("title", "desc"):
                text = self._text.value()
                self._text = None
                if name == "title":
                    programme.title = text
                else:
                    programme.description = text
            elif name in _DETAIL_ELEMENTS or name == "value" or name == "rating":
                self._end_detail(programme, name)
        elif self._channel is not None:
            if name == "channel":
                channel, self._channel = self._channel, None
                if len(channel["id"]) > self.limits.max_id_chars:
                    self._skip("channel id too long", channel["id"][:60], channel["name"])
                elif channel["id"]:
                    self._channels_seen += 1
                    if self._channels_seen > self.limits.max_channels:
                        self._too_many_channels()
                    self._out.append(ChannelEntry(channel["id"], channel["name"], channel["icon"]))
                else:
                    self._skip("channel without id", "", channel["name"])
            elif name == "display-name" and self._text is not None:
                self._channel["name"] = self._text.value()
                self._text = None

    def _end_detail(self, programme: _Pending, name: str) -> None:
        """Keep a sub-title (the first), categories, episode numbers and ratings, each
        bounded in length and count (playback.programme_details)."""
        if name == "rating":
            programme.reading = ("", "")
            return
        if self._text is None:
            return
        text = self._text.value()[:MAX_TEXT]
        self._text = None
        element, label = programme.reading
        if name == "value":
            target = programme.ratings
        else:
            programme.reading = ("", "")
            if element != name:
                return
            if name == "sub-title":
                if programme.sub_title is None and text:
                    programme.sub_title = (text, label[:16])
                return
            target = programme.categories if name == "category" else programme.episode_nums
        if text and len(target) < MAX_REPEATS:
            target.append((label, text))

    # -- programmes -----------------------------------------------------------------------

    def _skip(self, reason: str, channel: str, detail: str, line: int = 0) -> None:
        self._out.append(Skipped(reason, channel, detail, line))

    def _finish_programme(self, p: _Pending) -> None:
        if not p.channel:
            self._skip("missing channel", "", f"start={p.start_text[:40]!r}", p.line)
            return
        if len(p.channel) > self.limits.max_id_chars:
            self._skip("channel id too long", p.channel[:60], "", p.line)
            return
        try:
            start = parse_xmltv_time(p.start_text, self.default_zone)
            stop = parse_xmltv_time(p.stop_text, self.default_zone) if p.stop_text else None
        except BadTime as exc:
            self._skip("unreadable time", p.channel, str(exc), p.line)
            return
        if not (self.earliest <= start <= self.latest):
            self._skip("date out of range", p.channel, f"start={p.start_text!r}", p.line)
            return
        entry = ProgrammeEntry(
            p.channel, start, stop or start, p.title or "", p.description or "", p.lang,
            p.details(),
        )  # fmt: skip
        previous = self._open_ended.pop(p.channel, None)
        if previous is not None:
            if start > previous.start:
                self._accept(
                    ProgrammeEntry(
                        previous.channel,
                        previous.start,
                        start,
                        previous.title,
                        previous.description,
                        previous.lang,
                        previous.details,
                    ),
                    p.line,
                )
            else:
                self._skip("no stop time", p.channel, "next programme does not start later")
        if stop is None:
            self._open_ended[p.channel] = entry
            if len(self._open_ended) > self.limits.max_channels:
                self._too_many_channels()
            return
        self._accept(entry, p.line)

    def _accept(self, entry: ProgrammeEntry, line: int) -> None:
        if entry.stop <= entry.start:
            self._skip("stop not after start", entry.channel, f"{entry.title!r}", line)
        elif entry.stop - entry.start > self.longest:
            self._skip("absurd duration", entry.channel, f"{entry.title!r}", line)
        elif not entry.title:
            self._skip("missing title", entry.channel, "", line)
        else:
            self._count(entry.channel, line)
            self._out.append(entry)

    def _too_many_channels(self) -> None:
        raise XmltvTooLarge(
            f"the document has more than {self.limits.max_channels:,} channels; refused"
        )

    def _count(self, channel: str, line: int) -> None:
        count = self._per_channel.get(channel, 0) + 1
        if count == 1 and len(self._per_channel) >= self.limits.max_channels:
            self._too_many_channels()
        if count > self.limits.max_programmes_per_channel:
            raise XmltvTooLarge(
                f"channel {channel!r} has more than {self.limits.max_programmes_per_channel:,} "
                f"programmes (line {line}); the document is refused"
            )
        self._per_channel[channel] = count
