"""Push channels in ``palinsesto panel`` mode: the panel tells the creator which node to
publish to and at which address (RTMP for a ``push_rtmp`` channel, SRT for a ``push_srt``
one, nothing for a channel without a push source), and real ffmpeg publishing to exactly
that address is watched through the panel's URL, served by the real ``palinsesto node``."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from palinsesto.accounts.models import Role
from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ItemType
from support.admin_api import add_user, root_client
from support.media import FFMPEG, count_frames
from support.node_world import PASSWORD, TenantSide, add_server, make_tenant
from support.serve_process import serve_env, serve_process
from support.server import RunningServer, make_settings, run_server

NODE_LINE = re.compile(r"Serving players on (http://\S+) ")
RTMP_KEY = "rtmp_k3y_node_push_0123456789ab"
SRT_KEY = "srt_k3y_node_push_0123456789abc"


@pytest.fixture
def panel(sqlite_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    settings = make_settings(tmp_path / "panel", sqlite_url, node_heartbeat_seconds=0.5)
    with run_server(settings, local_node=False) as running:
        yield running


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _add_push(
    panel: RunningServer, side: TenantSide, name: str, source: dict[str, str], key: str,
    owner: int,
) -> int:  # fmt: skip
    """A push channel of ``side`` owned by the creator ``owner``, in its bouquet."""
    with panel.ctx.db.transaction() as s:
        channel = Channel(
            tenant_id=side.id, name=name, sources=[source], stream_key=key, owner_user_id=owner
        )
        s.add(channel)
        s.flush()
        bouquet = s.query(Bouquet).filter_by(tenant_id=side.id).one()
        s.add(BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=channel.id))
        channel_id = channel.id
    panel.ctx.events.publish(side.id, "catalog")
    return channel_id


def _ingest(admin: httpx.Client, channel_id: int) -> dict[str, Any]:
    r = admin.get("/api/v1/live/ingest", params={"channel_id": channel_id})
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def _publisher(url: str, fmt: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            FFMPEG, "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440",
            "-t", "40", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
            "-c:a", "aac", "-b:a", "32k", "-f", fmt, url,
        ],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def _watched(url: str, publisher: subprocess.Popen[bytes], timeout: float = 40) -> int:
    """Frames ffmpeg decodes from the panel's URL in 3 s, once the pushed feed plays."""
    deadline = time.monotonic() + timeout
    while True:
        run = subprocess.run(
            [FFMPEG, "-hide_banner", "-nostdin", "-i", url, "-t", "3", "-map", "0:v:0",
             "-f", "null", "-"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        frames = count_frames(run.stderr)
        if run.returncode == 0 and frames >= 50:
            return frames
        assert publisher.poll() is None, publisher.stderr.read() if publisher.stderr else ""
        assert time.monotonic() < deadline, run.stderr[-2000:]
        time.sleep(0.5)


def test_the_ingest_address_shown_for_a_push_channel_is_where_publishing_works(
    panel: RunningServer, tmp_path: Path
) -> None:
    side = make_tenant(panel, "pushers", max_connections=2)
    creator = add_user(panel, side.id, "pusher", Role.creator)
    rtmp_push = {"kind": "push_rtmp", "url": ""}
    rtmp_id = _add_push(panel, side, "rtmp push", rtmp_push, RTMP_KEY, creator.id)
    port = _free_udp_port()
    srt_source = {"kind": "push_srt", "url": "", "port": str(port)}
    srt_id = _add_push(panel, side, "srt push", srt_source, SRT_KEY, creator.id)
    server_id, token = add_server(panel, side.id, "ingest-node")
    env = serve_env(tmp_path / "node", NODE_HEARTBEAT_SECONDS="0.5")
    with (
        serve_process(env, "--panel", panel.base_url, "--token", token, command="node") as n,
        root_client(panel) as admin,
    ):
        n.wait_for(NODE_LINE, timeout=30)
        deadline = time.monotonic() + 30
        while not (_ingest(admin, rtmp_id)["rtmp_url"] and _ingest(admin, srt_id)["srt_url"]):
            assert time.monotonic() < deadline, (_ingest(admin, srt_id), n.output[-3000:])
            time.sleep(0.3)
        rtmp, srt = _ingest(admin, rtmp_id), _ingest(admin, srt_id)
        # Each channel is shown its own kind of address on the node it is placed on.
        assert rtmp["node_id"] == srt["node_id"] == server_id
        assert re.fullmatch(r"rtmp://127\.0\.0\.1:\d+/live", rtmp["rtmp_url"]), rtmp
        assert rtmp["srt_url"] is None and f"Node {server_id}" in rtmp["note"]
        assert srt["srt_url"] == f"srt://127.0.0.1:{port}" and srt["rtmp_url"] is None
        # A channel without a push source, and the panel's own (it takes no publisher).
        pulled = _ingest(admin, side.channel)
        assert pulled["rtmp_url"] is None and pulled["srt_url"] is None
        assert "no push source" in pulled["note"]
        own = admin.get("/api/v1/live/ingest").json()
        assert own["rtmp_url"] is None and "streaming node" in own["note"]
        # The creator's go-live page says the same of its own channels.
        with panel.client(creator.token) as c:
            for channel_id, shown in ((rtmp_id, rtmp), (srt_id, srt)):
                go = c.get(f"/api/v1/creator/channels/{channel_id}/go-live").json()
                assert (go["rtmp_url"], go["srt_url"], go["node_id"]) == (
                    shown["rtmp_url"], shown["srt_url"], server_id,
                ), go  # fmt: skip

        def panel_url(channel_id: int) -> str:
            return f"{panel.base_url}/live/{side.line}/{PASSWORD}/{channel_id}.ts"

        publisher = _publisher(f"{rtmp['rtmp_url']}/{RTMP_KEY}", "flv")
        try:
            assert _watched(panel_url(rtmp_id), publisher) >= 50
        finally:
            publisher.kill()
            publisher.wait()
        srt_url = f"{srt['srt_url']}?mode=caller&passphrase={SRT_KEY}&pbkeylen=16"
        publisher = _publisher(srt_url, "mpegts")
        try:
            assert _watched(panel_url(srt_id), publisher) >= 50
        finally:
            publisher.kill()
            publisher.wait()
