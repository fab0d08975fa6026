"""The options that keep ffmpeg's reads under the outbound policy, on each source kind."""

from __future__ import annotations

from palinsesto.node.ffmpeg import (
    HTTP_PULL_PROTOCOLS,
    Source,
    channel_argv,
    probe_argv,
    profile_for,
)
from palinsesto.protocol.sources import SourceKind

PROXY = "http://127.0.0.1:4321"


def _after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_http_pulls_go_through_the_proxy_and_open_only_http() -> None:
    for kind, url in ((SourceKind.hls, "http://up/x.m3u8"), (SourceKind.http_ts, "https://up/x")):
        source = Source(kind, url)
        for argv in (
            channel_argv("ff", source, profile_for("copy"), http_proxy=PROXY),
            probe_argv("ff", source, http_proxy=PROXY),
        ):
            # Input options: before the -i they apply to.
            assert argv.index("-http_proxy") < argv.index("-i")
            assert _after(argv, "-http_proxy") == PROXY
            assert _after(argv, "-protocol_whitelist") == HTTP_PULL_PROTOCOLS
            assert "file" not in HTTP_PULL_PROTOCOLS.split(",")


def test_file_sources_open_only_files_and_other_kinds_are_untouched() -> None:
    file_argv = channel_argv("ff", Source(SourceKind.file, "/m/1/a.ts"), profile_for("copy"))
    assert _after(file_argv, "-protocol_whitelist") == "file"
    assert "-http_proxy" not in file_argv
    for source in (
        Source(SourceKind.rtsp, "rtsp://cam/1"),
        Source(SourceKind.test_pattern, "testsrc://320x180@25"),
    ):
        argv = channel_argv("ff", source, profile_for("copy"), http_proxy=PROXY)
        assert "-http_proxy" not in argv and "-protocol_whitelist" not in argv
