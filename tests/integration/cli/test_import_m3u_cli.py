"""`palinsesto import m3u` run as a real command, from files and from a local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from palinsesto.accounts.bootstrap import ensure_tenant
from palinsesto.db import Database, upgrade
from palinsesto.outbound import REFUSED as OUTBOUND_REFUSED
from support.cli_runner import BIN, Cli
from support.peak_rss import run_measured
from support.stand_ins import stand_in

PLAYLIST = "\n".join(
    [
        '#EXTM3U x-tvg-url="http://epg.example.net/guide.xml"',
        '#EXTINF:-1 tvg-id="news24.example" tvg-name="News 24"'
        ' tvg-logo="http://img.example.net/n24.png"'
        ' group-title="News" tvg-chno="101",News 24',
        "http://tv.example.net:8080/live/alice/s3cret/1001.ts",
        '#EXTINF:-1 tvg-id="sport1.example" tvg-logo="http://img.example.net/s1.png"'
        ' group-title="Sports;HD" catchup="xc" catchup-days="3",Sport 1',
        "http://cdn.example.net/sport1/index.m3u8",
        '#EXTINF:-1 group-title="News",Lost Entry',
        '#EXTINF:-1 tvg-id="hotel.info" group-title="Hotel",Hotel Info',
        "udp://@239.1.1.1:1234",
        "#EXTINF:x1,Bad Duration",
        "http://tv.example.net/bad.ts",
        "http://tv.example.net/orphan.ts",
        '#EXTINF:-1 group-title="Radio",Radio FTP',
        "ftp://files.example.net/radio.mp3",
        '#EXTINF:-1 group-title="Cameras",Lobby Camera',
        "rtsp://10.0.0.7/stream1",
        '#EXTINF:-1 group-title="Contrib",Field Feed',
        "srt://203.0.113.9:9000",
        '#EXTINF:-1 group-title="Contrib",Studio Push',
        "rtmp://203.0.113.10/live/studio",
        '#EXTINF:-1 tvg-logo="http://img.example.net/oops.png,Unterminated',
        "http://tv.example.net/unterminated.ts",
        "",
    ]
)
# (line number, start of the message) for each malformed entry above
EXPECTED_ERRORS = [
    (6, "#EXTINF without a URL"),
    (9, "bad duration 'x1'"),
    (11, "URL without #EXTINF"),
    (13, "unsupported URL scheme 'ftp'"),
    (20, "malformed #EXTINF: unterminated quote"),
]
VALID = 6


def _tenant(database_url: str, slug: str = "acme") -> int:
    upgrade(database_url)
    db = Database(database_url)
    try:
        with db.transaction() as session:
            return ensure_tenant(session, slug).id
    finally:
        db.dispose()


def _snapshot(cli: Cli) -> list[list[tuple]]:
    return [
        cli.rows("SELECT * FROM channels ORDER BY id"),
        cli.rows("SELECT * FROM categories ORDER BY id"),
        cli.rows("SELECT * FROM channel_categories ORDER BY channel_id, category_id"),
        cli.rows("SELECT * FROM movies ORDER BY id"),
        cli.rows("SELECT id FROM audit_log ORDER BY id"),
    ]


def test_import_from_file_reports_bad_lines_and_reimport_does_not_duplicate(
    database_url: str, tmp_path: Path
) -> None:
    tenant = _tenant(database_url)
    cli = Cli(tmp_path / "data", database_url)
    playlist = tmp_path / "provider.m3u"
    playlist.write_text(PLAYLIST)

    first = cli.run("import", "m3u", str(playlist), "--tenant", "acme")
    assert first.returncode == 0, first.stderr + first.stdout
    for number, message in EXPECTED_ERRORS:
        assert f"line {number}: {message}" in first.stderr
    assert f"{VALID} created, 0 updated, 0 unchanged" in first.stdout
    assert "malformed entries skipped: 5" in first.stdout

    channels = {
        row[0]: row[1:]
        for row in cli.rows(
            "SELECT name, number, logo, epg_channel_id, sources, archive_days FROM channels "
            "WHERE tenant_id = :t",
            t=tenant,
        )
    }
    assert set(channels) == {
        "News 24",
        "Sport 1",
        "Hotel Info",
        "Lobby Camera",
        "Field Feed",
        "Studio Push",
    }

    def sources(name: str) -> list[dict[str, str]]:
        raw = channels[name][3]
        return raw if isinstance(raw, list) else json.loads(raw)

    number, logo, epg_id, _, archive_days = channels["News 24"]
    assert (number, logo, epg_id) == (101, "http://img.example.net/n24.png", "news24.example")
    assert sources("News 24") == [
        {"url": "http://tv.example.net:8080/live/alice/s3cret/1001.ts", "kind": "http_ts"}
    ]
    assert sources("Sport 1")[0]["kind"] == "hls"
    assert channels["Sport 1"][4] == 3  # catchup-days
    assert [sources(name)[0]["kind"] for name in ("Hotel Info", "Lobby Camera")] == [
        "udp",
        "rtsp",
    ]
    assert [sources(name)[0]["kind"] for name in ("Field Feed", "Studio Push")] == ["srt", "rtmp"]
    # Channels without tvg-chno are numbered after the highest number.
    assert channels["Sport 1"][0] == 102
    categories = dict(cli.rows("SELECT name, kind FROM categories WHERE tenant_id = :t", t=tenant))
    assert categories == {
        name: "live" for name in ("News", "Sports", "HD", "Hotel", "Cameras", "Contrib")
    }
    # "Sports;HD": both groups, in order.
    assert cli.rows(
        "SELECT c.name FROM channel_categories cc JOIN categories c ON c.id = cc.category_id "
        "JOIN channels ch ON ch.id = cc.channel_id WHERE ch.name = 'Sport 1' ORDER BY cc.position"
    ) == [("Sports",), ("HD",)]

    before = _snapshot(cli)
    again = cli.run("import", "m3u", str(playlist), "--tenant", "acme")
    assert again.returncode == 0, again.stderr
    assert f"0 created, 0 updated, {VALID} unchanged" in again.stdout
    after = _snapshot(cli)
    assert after[:4] == before[:4]  # nothing duplicated, nothing changed
    assert len(after[4]) == len(before[4]) + 1  # but the import is in the audit log

    # The provider moves a channel and changes a logo: matched by name and group, updated.
    changed = PLAYLIST.replace(
        "http://cdn.example.net/sport1/index.m3u8", "http://cdn2.example.net/s1.ts"
    )
    changed = changed.replace("n24.png", "n24-new.png")
    playlist.write_text(changed)
    third = cli.run("import", "m3u", str(playlist), "--tenant", "acme")
    assert third.returncode == 0, third.stderr
    assert f"0 created, 2 updated, {VALID - 2} unchanged" in third.stdout
    assert cli.count("channels", "tenant_id = :t", t=tenant) == VALID
    assert cli.rows("SELECT logo FROM channels WHERE name = 'News 24'") == [
        ("http://img.example.net/n24-new.png",)
    ]
    audit = cli.rows(
        "SELECT actor, entity, after FROM audit_log WHERE tenant_id = :t AND action = 'import'",
        t=tenant,
    )
    assert len(audit) == 3
    detail = audit[0][2] if isinstance(audit[0][2], dict) else json.loads(audit[0][2])
    assert (audit[0][0], audit[0][1], detail["created"], detail["source"]) == (
        "cli",
        "channel",
        VALID,
        str(playlist),
    )


class _Routes(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, str, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        status, content_type, body = self.routes.get(self.path, (404, "text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@contextmanager
def _http_server(routes: dict[str, tuple[int, str, bytes]]) -> Iterator[str]:
    handler = type("Handler", (_Routes,), {"routes": routes})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_import_from_url_and_clear_errors_for_bad_sources(sqlite_url: str, tmp_path: Path) -> None:
    _tenant(sqlite_url)
    html = b"<!doctype html>\n<html><head><title>Login</title></head><body>Sign in</body></html>\n"
    routes = {
        "/get.php": (200, "audio/x-mpegurl", PLAYLIST.encode()),
        "/login": (200, "text/html", html),
        "/huge.m3u": (200, "audio/x-mpegurl", b"#EXTM3U\n" + b"#" * 5000),
    }
    with _http_server(routes) as base:
        # The local server stands in for the provider on the internet: allow its port.
        allow = base.removeprefix("http://")
        cli = Cli(tmp_path / "data", sqlite_url, {"PALINSESTO_OUTBOUND_ALLOW_NETWORKS": allow})
        missing = cli.run("import", "m3u", f"{base}/gone.m3u", "--tenant", "acme")
        assert missing.returncode == 1
        assert "HTTP 404" in missing.stderr
        page = cli.run("import", "m3u", f"{base}/login", "--tenant", "acme")
        assert page.returncode == 1
        assert "no valid entries" in page.stderr and "no #EXTM3U header" in page.stderr
        huge = cli.run(
            "import", "m3u", f"{base}/huge.m3u", "--tenant", "acme", "--max-bytes", "1000"
        )
        assert huge.returncode == 1
        assert "1000 byte limit" in huge.stderr
        assert _snapshot(cli) == [[], [], [], [], []]

        fetched = cli.run("import", "m3u", f"{base}/get.php", "--tenant", "acme")
        assert fetched.returncode == 0, fetched.stderr
        assert f"{VALID} created" in fetched.stdout
        assert "line 13: unsupported URL scheme 'ftp'" in fetched.stderr
    assert cli.count("channels") == VALID


def test_bad_files_and_unknown_tenant_change_nothing(sqlite_url: str, tmp_path: Path) -> None:
    _tenant(sqlite_url)
    cli = Cli(tmp_path / "data", sqlite_url)
    playlist = tmp_path / "list.m3u"
    playlist.write_text(PLAYLIST)
    empty = tmp_path / "empty.m3u"
    empty.write_text("#EXTM3U\n#EXTINF:-1,Only A Title\n")
    before = _snapshot(cli)

    absent = cli.run("import", "m3u", str(tmp_path / "nope.m3u"), "--tenant", "acme")
    assert (absent.returncode, "nope.m3u: no such file" in absent.stderr) == (1, True)
    stranger = cli.run("import", "m3u", str(playlist), "--tenant", "someone-else")
    assert (stranger.returncode, "no tenant 'someone-else'" in stranger.stderr) == (1, True)
    nothing = cli.run("import", "m3u", str(empty), "--tenant", "acme")
    assert nothing.returncode == 1
    assert "line 2: #EXTINF without a URL" in nothing.stderr
    assert "no valid entries" in nothing.stderr
    assert _snapshot(cli) == before

    movies = tmp_path / "vod.m3u"
    movies.write_text(
        "#EXTM3U\n"
        '#EXTINF:-1 tvg-logo="http://img.example.net/m.jpg" group-title="Movies | Action",'
        "Some Movie (2019)\n"
        "http://tv.example.net:8080/movie/alice/s3cret/5001.mkv\n"
    )
    vod = cli.run("import", "m3u", str(movies), "--tenant", "acme", "--category-kind", "movie")
    assert vod.returncode == 0, vod.stderr
    assert cli.rows("SELECT name, container_extension, stream_icon FROM movies") == [
        ("Some Movie (2019)", "mkv", "http://img.example.net/m.jpg")
    ]
    assert cli.rows("SELECT name, kind FROM categories") == [("Movies | Action", "movie")]


def test_playlist_urls_are_fetched_under_the_outbound_policy(
    database_url: str, tmp_path: Path
) -> None:
    _tenant(database_url)
    with stand_in() as private_service, stand_in() as provider:
        provider.routes["/get.php"] = (200, {}, PLAYLIST.encode())
        provider.routes["/moved.m3u"] = (302, {"Location": f"{private_service.base}/x.m3u"}, b"")
        provider.routes["/meta.m3u"] = (302, {"Location": "http://169.254.169.254/"}, b"")
        settings = {"PALINSESTO_OUTBOUND_ALLOW_NETWORKS": f"127.0.0.1:{provider.port}"}
        cli = Cli(tmp_path / "data", database_url, settings)
        before = _snapshot(cli)
        denied = {
            f"http://127.0.0.1:{private_service.port}/x.m3u": "",
            "http://169.254.169.254/latest/meta-data/": "",
            "http://192.168.1.1/get.php": "",
            f"{provider.base}/moved.m3u": " (redirected to",
            f"{provider.base}/meta.m3u": " (redirected to",
        }
        for url, extra in denied.items():
            result = cli.run("import", "m3u", url, "--tenant", "acme")
            assert result.returncode == 1, result.stdout
            said = " ".join(result.stderr.split())
            assert f"{url}: {OUTBOUND_REFUSED}{extra}" in said, result.stderr
        assert _snapshot(cli) == before  # nothing imported
        assert private_service.seen == []
        # The same command reaches what the platform admin allowed.
        allowed = cli.run("import", "m3u", f"{provider.base}/get.php", "--tenant", "acme")
        assert allowed.returncode == 0, allowed.stderr
        assert f"{VALID} created" in allowed.stdout


# Security #12: values the admin API would refuse, each on its own entry.
OUT_OF_BOUNDS = "\n".join(
    [
        "#EXTM3U",
        '#EXTINF:-1 tvg-chno="١٢" group-title="News",Arabic-Indic Digits',  # 2
        "http://tv.example.net/a.ts",
        '#EXTINF:-1 tvg-chno="²" group-title="News",Superscript Two',  # 4
        "http://tv.example.net/b.ts",
        '#EXTINF:-1 tvg-chno="12345678901234567890" group-title="News",Twenty Digits',  # 6
        "http://tv.example.net/c.ts",
        '#EXTINF:-1 catchup-days="99999" group-title="News",Forever Archive',  # 8
        "http://tv.example.net/d.ts",
        '#EXTINF:-1 tvg-rec="12345678901234567890" group-title="News",Huge Rec',  # 10
        "http://tv.example.net/e.ts",
        '#EXTINF:-1 tvg-chno="1000001" group-title="News",Number Too High',  # 12
        "http://tv.example.net/f.ts",
        f'#EXTINF:-1 group-title="News",{"N" * 201}',  # 14
        "http://tv.example.net/g.ts",
        '#EXTINF:-1 tvg-chno="7" catchup-days="365" group-title="News",Good Seven',  # 16
        "http://tv.example.net/good7.ts",
        '#EXTINF:-1 tvg-chno="abc" group-title="News",Letters',  # 18
        "http://tv.example.net/h.ts",
        '#EXTINF:-1 tvg-chno="" catchup-days="0" group-title="News",Good Plain',  # 20
        "http://tv.example.net/good.ts",
        "",
    ]
)
REFUSED = [
    (2, "tvg-chno must be a whole number from 0 to 1000000, got '١٢'"),
    (4, "tvg-chno must be a whole number from 0 to 1000000, got '²'"),
    (6, "tvg-chno must be a whole number from 0 to 1000000, got '12345678901234567890'"),
    (8, "catchup-days must be a whole number from 0 to 365, got '99999'"),
    (10, "tvg-rec must be a whole number from 0 to 365, got '12345678901234567890'"),
    (12, "tvg-chno must be a whole number from 0 to 1000000, got '1000001'"),
    (14, "name longer than 200 characters"),
    (18, "tvg-chno must be a whole number from 0 to 1000000, got 'abc'"),
]


def test_values_out_of_the_api_bounds_cost_only_their_entry(
    database_url: str, tmp_path: Path
) -> None:
    tenant = _tenant(database_url)
    cli = Cli(tmp_path / "data", database_url)
    playlist = tmp_path / "bounds.m3u"
    playlist.write_text(OUT_OF_BOUNDS, encoding="utf-8")
    result = cli.run("import", "m3u", str(playlist), "--tenant", "acme")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    for number, message in REFUSED:
        assert f"line {number}: {message}" in result.stderr, result.stderr
    assert "2 created, 0 updated, 0 unchanged" in result.stdout
    assert f"malformed entries skipped: {len(REFUSED)}" in result.stdout
    assert cli.rows(
        "SELECT name, number, archive_days FROM channels WHERE tenant_id = :t ORDER BY id",
        t=tenant,
    ) == [("Good Seven", 7, 365), ("Good Plain", 8, 0)]

    # All refused: nothing imported, nothing stored, a clear error.
    only_bad = tmp_path / "only-bad.m3u"
    only_bad.write_text(OUT_OF_BOUNDS.split('#EXTINF:-1 tvg-chno="7"')[0], encoding="utf-8")
    before = _snapshot(cli)
    refused = cli.run("import", "m3u", str(only_bad), "--tenant", "acme")
    assert refused.returncode == 1
    assert "no valid entries" in refused.stderr and "Traceback" not in refused.stderr
    assert _snapshot(cli) == before


def _provider_playlist(path: Path, entries: int) -> None:
    """A provider-like playlist: 200 groups, numbers on half the entries."""
    with path.open("w", encoding="utf-8") as out:
        out.write('#EXTM3U x-tvg-url="http://epg.example.net/guide.xml"\n')
        for i in range(entries):
            chno = f' tvg-chno="{i + 1}"' if i % 2 == 0 else ""
            out.write(
                f'#EXTINF:-1 tvg-id="ch{i}.example" tvg-logo="http://img.example.net/{i}.png"'
                f'{chno} group-title="Group {i % 200:03d}" catchup-days="{i % 8}",Channel {i}\n'
                f"http://tv.example.net:8080/live/user/pass/{i}.ts\n"
            )


def test_import_memory_grows_little_with_the_playlist(sqlite_url: str, tmp_path: Path) -> None:
    """Security #12: 100,000 entries took 981 MB (about 9 KB an entry, every entry and an
    ORM object per channel held at once). Ten times the entries must now cost only the
    text and a few index dictionaries: well under 1.5 KB an entry (the peak of a small
    import is the command's start-up: migrations, imports)."""
    small, large = 10_000, 100_000
    figures = {}
    for count in (small, large):
        database = tmp_path / f"db{count}.sqlite"
        url = f"sqlite:///{database}"
        _tenant(url)
        cli = Cli(tmp_path / f"data{count}", url)
        playlist = tmp_path / f"list{count}.m3u"
        _provider_playlist(playlist, count)
        command = [str(BIN), "import", "m3u", str(playlist), "--tenant", "acme"]
        code, seconds, peak, out, err = run_measured(command, cli.env())
        assert code == 0, err[-2000:]
        assert f"{count} created, 0 updated, 0 unchanged" in out, out
        assert cli.count("channels") == count
        figures[count] = (seconds, peak)
    growth_kb_per_entry = (figures[large][1] - figures[small][1]) * 1024 / (large - small)
    print(f"import figures (s, peak MB): {figures}; growth {growth_kb_per_entry:.2f} KB/entry")
    assert growth_kb_per_entry < 1.5, figures
    assert figures[large][1] < 200, figures  # 981 MB before


def test_errors_do_not_print_the_provider_password(sqlite_url: str, tmp_path: Path) -> None:
    """Provider playlist URLs carry the account's password; error messages mask it."""
    _tenant(sqlite_url)
    # Loopback stands in for the provider: allowed explicitly (the outbound policy).
    cli = Cli(tmp_path / "data", sqlite_url, {"PALINSESTO_OUTBOUND_ALLOW_NETWORKS": "127.0.0.1/32"})
    routes = {"/login": (200, "text/html", b"<html>Sign in</html>\n")}
    with _http_server(routes) as base:
        host = base.split("://", 1)[1]
        for url in (
            f"{base}/get.php?username=alice&password=Pr0viderPw&type=m3u_plus",  # 404
            f"http://alice:Pr0viderPw@{host}/login?password=Pr0viderPw",  # not a playlist
        ):
            failed = cli.run("import", "m3u", url, "--tenant", "acme")
            assert failed.returncode == 1
            assert "Pr0viderPw" not in failed.stdout + failed.stderr, failed.stderr
            assert "password=***" in failed.stderr
