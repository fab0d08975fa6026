"""``get.php`` and ``/playlist/U/P[/TYPE]`` playlists (reference §6, §11.1, §13.19).

A playlist differs between lines of the same bouquet set only by the credentials in its
URLs. So each (bouquet set, type, output, content keys) is rendered once, as ~64 KiB
chunks holding placeholders where the credentials go; a request streams those chunks
with its own credentials spliced in (``bytes.replace``, C speed), never building the
whole document for itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from palinsesto.db import Database
from palinsesto.panel.playback.bodies import entity_tag, stream
from palinsesto.panel.playback.catalog_cache import Sections
from palinsesto.panel.playback.catalog_view import load_episodes
from palinsesto.panel.playback.lines import LineView
from palinsesto.panel.playback.viewer import ViewerSurfaces, plain_headers, viewer_request

PATH_CREDENTIALS = b"\x00P\x00"  # becomes U/P in stream URLs
QUERY_CREDENTIALS = b"\x00Q\x00"  # becomes username=U&password=P
CHUNK_BYTES = 64 * 1024
CRLF = "\r\n"  # §6.2: templates join lines with CRLF

PLAYLIST_TYPES = ("m3u", "m3u_plus", "simple", "enigma16", "dreambox", "gigablue")
# The Content-Type of each type. §6.1 says XC sends application/octet-stream for all of
# them, but players decide what a URL is by its type: mpv takes audio/mpegurl,
# audio/x-mpegurl or application/x-mpegurl as an M3U playlist whatever the first line
# says (demux_playlist.c); VLC reads the same names. No charset parameter: some readers
# compare the whole header value. The other types are text files for receivers.
M3U_MEDIA_TYPE = "audio/x-mpegurl"
TEXT_MEDIA_TYPE = "text/plain; charset=utf-8"
MEDIA_TYPES = {kind: TEXT_MEDIA_TYPE for kind in PLAYLIST_TYPES}
MEDIA_TYPES.update({"m3u": M3U_MEDIA_TYPE, "m3u_plus": M3U_MEDIA_TYPE})
# §6.1: output aliases; rtmp is not served by this panel.
OUTPUTS = {"ts": "ts", "mpegts": "ts", "m3u8": "m3u8", "hls": "m3u8"}
CONTENT_KEYS = ("live", "movie", "series")
KEY_ALIASES = {"live": "live", "created_live": "live", "radio_streams": "live"}
KEY_ALIASES.update({"movie": "movie", "series": "series"})
# §11.1: the default service reference fragment, with its own leading/trailing colons.
DEFAULT_SID = ":0:1:0:0:0:0:0:0:0:"


class PlaylistRequestError(ValueError):
    """An unknown type/output/key; the message says what is accepted."""


@dataclass(frozen=True, slots=True)
class PlaylistSpec:
    kind: str
    output: str  # "ts" or "m3u8"
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Entry:
    """One playlist item before rendering."""

    kind: str  # live / movie / series
    name: str
    url: str  # with the credentials placeholder
    logo: str
    groups: tuple[str, ...]  # category names, the first being the main one
    epg_id: str
    number: int | None  # the channel's own number (tvg-chno); None when it has none
    custom_sid: str
    archive_days: int
    stream_id: int


class Template:
    """A rendered playlist with credential placeholders, in chunks, and its digest."""

    __slots__ = ("chunks", "digest")

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.digest = entity_tag(*chunks).encode()

    @property
    def nbytes(self) -> int:
        return sum(map(len, self.chunks))

    def render(self, username: str, password: str) -> Iterator[bytes]:
        path = f"{quote(username, safe='@._-')}/{quote(password, safe='@._-')}".encode()
        query = urlencode({"username": username, "password": password}).encode()
        for chunk in self.chunks:
            yield chunk.replace(PATH_CREDENTIALS, path).replace(QUERY_CREDENTIALS, query)

    def etag(self, username: str, password: str) -> str:
        return entity_tag(self.digest, username.encode(), b"\x00", password.encode())


def parse_spec(kind: str, output: str, key: str, line: LineView) -> PlaylistSpec:
    """Validate ``type``, ``output`` and XUI's ``key`` (§6.1)."""
    kind = (kind or "m3u_plus").lower()  # XUI defaults to m3u_plus
    if kind not in PLAYLIST_TYPES:
        raise PlaylistRequestError(
            f"unknown playlist type {kind!r}; supported: {', '.join(PLAYLIST_TYPES)}"
        )
    if output:
        if output.lower() not in OUTPUTS:
            raise PlaylistRequestError(
                f"unknown output {output!r}; supported: {', '.join(sorted(OUTPUTS))}"
            )
        resolved = OUTPUTS[output.lower()]
    else:
        # §6.1: empty output is the device default, MPEG-TS, unless the line may not
        # use it; then its first allowed format (§3.2 ordering).
        resolved = "ts" if "ts" in line.allowed_outputs else (line.allowed_outputs or ("ts",))[0]
    keys: tuple[str, ...] = CONTENT_KEYS
    if key:
        wanted = []
        for part in key.split(","):
            name = KEY_ALIASES.get(part.strip())
            if name is None:
                raise PlaylistRequestError(
                    f"unknown key {part!r}; supported: {', '.join(sorted(KEY_ALIASES))}"
                )
            wanted.append(name)
        keys = tuple(k for k in CONTENT_KEYS if k in wanted)
    return PlaylistSpec(kind, resolved, keys)


def _attr(value: str) -> str:
    # M3U attributes have no escaping: keep quotes and line breaks out of them.
    return value.replace('"', "'").replace("\r", " ").replace("\n", " ")


def _text(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


# The catalogue section each content key reads.
KEY_KINDS = {"live": "live", "movie": "vod", "series": "series"}


def spec_kinds(spec: PlaylistSpec) -> tuple[str, ...]:
    """The catalogue sections a playlist of ``spec`` is built from."""
    return tuple(KEY_KINDS[k] for k in spec.keys)


def entries(sections: Sections, db: Database, base: str, spec: PlaylistSpec) -> Iterator[Entry]:
    """§6.3: live and VOD in bouquet order, then every episode by series/season/episode."""
    creds = PATH_CREDENTIALS.decode()
    if "live" in spec.keys:
        live = sections.live
        for ch in live.items:
            groups = tuple(live.category_name(c) for c in ch.category_ids)
            yield Entry(
                "live",
                ch.name,
                f"{base}/live/{creds}/{ch.id}.{spec.output}",
                ch.logo,
                groups,
                ch.epg_channel_id or "",
                ch.number,
                ch.custom_sid,
                ch.archive_days,
                ch.id,
            )
    if "movie" in spec.keys:
        vod = sections.vod
        for m in vod.items:
            yield Entry(
                "movie",
                m.name,
                f"{base}/movie/{creds}/{m.id}.{m.container_extension}",
                m.stream_icon,
                (vod.category_name(m.category_id),),
                "",
                None,
                "",
                0,
                m.id,
            )
    if "series" in spec.keys and sections.series.items:
        series = sections.series
        with db.session() as session:
            episodes = load_episodes(session, sections.tenant_id, series.by_id)
        for s in series.items:
            group = series.category_name(s.category_id)
            for ep in episodes.get(s.id, ()):
                # §6.3: XC names episodes "<Series> S01 E02".
                label = f"{s.name} S{ep.season_number:02d} E{ep.episode_num:02d}"
                yield Entry(
                    "series",
                    label,
                    f"{base}/series/{creds}/{ep.id}.{ep.container_extension}",
                    ep.movie_image or s.cover,
                    (group,),
                    "",
                    None,
                    "",
                    0,
                    ep.id,
                )


def _catchup(entry: Entry, base: str, output: str) -> str:
    if entry.kind != "live" or entry.archive_days <= 0:
        return ""
    days = f' catchup-days="{entry.archive_days}"'
    if output == "m3u8":
        # §6.4: Kodi's "xc" mode derives the archive URL from a .m3u8 live URL.
        return f' catchup="xc"{days}'
    # §6.4: it does not recognise .ts live URLs, so spell the source out (§8.5 form).
    creds = PATH_CREDENTIALS.decode()
    source = f"{base}/timeshift/{creds}/{{duration:60}}/{{Y}}-{{m}}-{{d}}:{{H}}-{{M}}/"
    return f' catchup="default"{days} catchup-source="{source}{entry.stream_id}.ts"'


def render_header(spec: PlaylistSpec, base: str, bouquet_name: str) -> str:
    if spec.kind == "m3u":
        # §6.2: XC's plain header. Readers that know M3U by its first line alone (ffmpeg,
        # mpv given no Content-Type) want exactly "#EXTM3U"; this type has no tvg-id for
        # a guide to match anyway.
        return f"#EXTM3U{CRLF}"
    if spec.kind == "m3u_plus":
        # §13.19/§6.4: the XMLTV address with the same credentials, under both names.
        epg = f"{base}/xmltv.php?{QUERY_CREDENTIALS.decode()}"
        # §13.25: no #EXT-X-SESSION-DATA line.
        return f'#EXTM3U x-tvg-url="{epg}" url-tvg="{epg}"{CRLF}'
    if spec.kind == "simple":
        return ""
    return f"#NAME {_text(bouquet_name)}{CRLF}"  # §11.1 Enigma2 bouquet


def render_entry(entry: Entry, spec: PlaylistSpec, base: str) -> str:
    name = _text(entry.name)
    if spec.kind == "m3u":
        return f"#EXTINF:-1,{name}{CRLF}{entry.url}{CRLF}"
    if spec.kind == "m3u_plus":
        # §6.4: tvg-chno is the channel's number (Kodi numbers the others itself), and
        # group-title lists every category, ';'-separated as Kodi reads it.
        chno = f' tvg-chno="{entry.number}"' if entry.number is not None else ""
        groups = ";".join(_attr(g) for g in entry.groups if g)
        return (
            f'#EXTINF:-1 tvg-id="{_attr(entry.epg_id)}" tvg-name="{_attr(entry.name)}" '
            f'tvg-logo="{_attr(entry.logo)}"{chno} group-title="{groups}"'
            f"{_catchup(entry, base, spec.output)},{name}{CRLF}{entry.url}{CRLF}"
        )
    if spec.kind == "simple":
        return f"{entry.url} #Name: {name}{CRLF}"
    # §11.1: ":" is the service-reference separator, so it is percent-encoded in the URL.
    url = entry.url.replace(":", "%3A")
    sid = entry.custom_sid or DEFAULT_SID
    if spec.kind == "enigma16":
        service = f"4097{sid}"
    elif spec.kind == "dreambox":
        service = f"{1 if entry.kind == 'live' else 4097}{sid}"
    else:  # gigablue hard-codes the reference and ignores custom_sid
        service = "4097:0:1:0:0:0:0:0:0:0:"
    return f"#SERVICE {service}{url}{CRLF}#DESCRIPTION {name}{CRLF}"


def build_template(
    sections: Sections, db: Database, base: str, spec: PlaylistSpec, bouquet_name: str
) -> Template:
    """Render the whole playlist once for a bouquet set, in chunks."""
    chunks: list[bytes] = []
    pending: list[str] = [render_header(spec, base, bouquet_name)]
    size = len(pending[0])
    for entry in entries(sections, db, base, spec):
        text = render_entry(entry, spec, base)
        pending.append(text)
        size += len(text)
        if size >= CHUNK_BYTES:
            chunks.append("".join(pending).encode())
            pending, size = [], 0
    if pending:
        chunks.append("".join(pending).encode())
    return Template(chunks)


FILENAMES = {
    "m3u": "tv_channels_{user}.m3u",
    "m3u_plus": "tv_channels_{user}_plus.m3u",
    "simple": "tv_channels_{user}.txt",
}


def filename(spec: PlaylistSpec, username: str) -> str:
    # §6.1/§11.1: Enigma2 types download as the receiver's bouquet file.
    template = FILENAMES.get(spec.kind, "userbouquet.favourites.tv")
    return template.format(user=quote(username, safe=""))


class Playlists:
    """The ``get.php`` endpoint."""

    def __init__(self, surfaces: ViewerSurfaces) -> None:
        self.surfaces = surfaces

    async def handle(self, request: Request) -> Response:
        viewer = await viewer_request(request)
        # §6.1: XC answers 404 with an empty body for bad credentials or an inactive line.
        line = await self.surfaces.authenticate_download(viewer, bad_login_status=404)
        if isinstance(line, Response):
            return line
        params = viewer.params
        kind = request.path_params.get("kind") or params.get("type", "")
        try:
            spec = parse_spec(kind, params.get("output", ""), params.get("key", ""), line)
        except PlaylistRequestError as exc:
            return Response(str(exc), status_code=400, media_type="text/plain")
        if not line.allows_output(spec.output):
            # §8.2: XC answers 405 when the line may not use the output format.
            return Response("USER_DISALLOW_EXT", status_code=405, media_type="text/plain")
        base = self.surfaces.public_url_for(viewer, request.url.scheme)
        cache = self.surfaces.catalogs
        name = ("playlist", spec, base)
        kinds = spec_kinds(spec)
        template: Template | None = cache.peek(
            line.tenant_id, line.bouquet_ids, name, kinds, line.blocked
        )
        if template is None:
            db = self.surfaces.ctx.db

            def build(sections: Sections) -> Template:
                # §11.1: Enigma2 bouquets are named after the panel (the tenant).
                return build_template(sections, db, base, spec, cache.tenant(line.tenant_id)[0])

            template = await run_in_threadpool(
                cache.built, line.tenant_id, line.bouquet_ids, name, kinds, build, line.blocked
            )
        return stream(
            plain_headers(request),
            template.render(line.username, line.password),
            MEDIA_TYPES[spec.kind],
            etag=template.etag(line.username, line.password),
            extra_headers={
                "Content-Disposition": f'attachment; filename="{filename(spec, line.username)}"'
            },
            in_thread=False,
        )
