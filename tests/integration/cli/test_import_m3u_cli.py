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
from support.cli_runner import Cli

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
    cli = Cli(tmp_path / "data", sqlite_url)
    html = b"<!doctype html>\n<html><head><title>Login</title></head><body>Sign in</body></html>\n"
    routes = {
        "/get.php": (200, "audio/x-mpegurl", PLAYLIST.encode()),
        "/login": (200, "text/html", html),
        "/huge.m3u": (200, "audio/x-mpegurl", b"#EXTM3U\n" + b"#" * 5000),
    }
    with _http_server(routes) as base:
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


def test_errors_do_not_print_the_provider_password(sqlite_url: str, tmp_path: Path) -> None:
    """Provider playlist URLs carry the account's password; error messages mask it."""
    _tenant(sqlite_url)
    cli = Cli(tmp_path / "data", sqlite_url)
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
