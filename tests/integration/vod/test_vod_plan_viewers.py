"""The plan's concurrent viewers count movie and episode plays too: with a place left for
one viewer, a second device's play is refused while the first still downloads."""

from __future__ import annotations

import re
import socket
import subprocess

import httpx

from support.admin_api import root_client
from support.media import FFMPEG

from .conftest import VodWorld


def test_a_vod_play_beyond_the_plans_viewers_is_refused(vod: VodWorld) -> None:
    with root_client(vod.server) as root:
        r = root.patch(f"/api/v1/tenants/{vod.tenant.id}", json={"max_viewers": 1})
        assert r.status_code == 200
    with vod.admin() as owner:  # room on the line: only the plan can refuse
        r = owner.patch(f"/api/v1/lines/{vod.line_id}", json={"max_connections": 5})
        assert r.status_code == 200, r.text
    # A player that read the first range and keeps its connection (as between range
    # requests) holds its place (§8.6).
    port = int(vod.data_plane.rsplit(":", 1)[1])
    path = vod.movie_url("mp4", base="")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as held:
        request = f"GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: tv\r\nRange: bytes=0-999\r\n"
        held.sendall(request.encode() + b"\r\n")
        head = held.recv(65536)
        assert head.startswith(b"HTTP/1.1 206"), head[:200]
        with httpx.Client(timeout=30) as c:
            episode = vod.episode_url("e2", base=vod.data_plane)
            refused = c.get(episode, headers={"User-Agent": "box"})
            assert refused.status_code == 429
            assert refused.text.strip() == "TENANT_MAX_VIEWERS"
        run = subprocess.run(
            [FFMPEG, "-hide_banner", "-nostdin", "-i", vod.episode_url("e2"), "-t", "1",
             "-f", "null", "-"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert run.returncode != 0 and "429" in run.stderr
    with root_client(vod.server) as root:
        root.patch(f"/api/v1/tenants/{vod.tenant.id}", json={"max_viewers": None})
    run = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-i", vod.episode_url("e2"), "-t", "1",
         "-f", "null", "-"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0 and re.search(r"frame=\s*[1-9]", run.stderr), run.stderr[-800:]
