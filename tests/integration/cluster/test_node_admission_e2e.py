"""A viewer asks the panel, is sent by a 302 to a real `palinsesto node` process, and
plays there; a kick decided by the panel reaches the node at its next heartbeat."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.catalog.models import Channel
from palinsesto.node.sei_tag import read_tags
from palinsesto.protocol.watermark import code_for
from palinsesto.trust.models import RightsRecord, WatermarkMark
from support.admin_api import root_client
from support.node_world import PASSWORD, add_server, make_tenant
from support.serve_process import ServeProcess, serve_env, serve_process
from support.server import RunningServer, make_settings, run_server

NODE_LINE = re.compile(r"Serving players on (http://\S+) ")


@pytest.fixture
def panel(sqlite_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    settings = make_settings(tmp_path, sqlite_url, node_heartbeat_seconds=0.5)
    with run_server(settings, local_node=False) as running:
        yield running


def start_node(
    tmp_path: Path, panel: RunningServer, token: str
) -> AbstractContextManager[ServeProcess]:
    env = serve_env(tmp_path / "node", NODE_HEARTBEAT_SECONDS="0.5")
    return serve_process(env, "--panel", panel.base_url, "--token", token, command="node")


def first_packet(client: httpx.Client, url: str) -> tuple[httpx.Response, Iterator[bytes]]:
    response = client.send(client.build_request("GET", url), stream=True, follow_redirects=True)
    assert response.status_code == 200, response.read()
    chunks = response.iter_bytes()
    assert next(chunks)[:1] == b"\x47"
    return response, chunks


def test_a_play_admitted_by_the_panel_streams_from_the_node(
    panel: RunningServer, tmp_path: Path
) -> None:
    side = make_tenant(panel, "alpha", max_connections=1, policy=ConnectionPolicy.kick_oldest)
    _, token = add_server(panel, side.id, "edge-a")
    with start_node(tmp_path, panel, token) as node:
        node_url = node.wait_for(NODE_LINE, timeout=30).group(1)
        deadline = time.monotonic() + 20
        with httpx.Client(base_url=panel.base_url, timeout=30) as c:
            url = f"/live/{side.line}/{PASSWORD}/{side.channel}.ts"
            while True:  # until the node has registered
                r = c.get(url, follow_redirects=False)
                if r.status_code == 302 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert r.status_code == 302, r.text
            assert r.headers["location"].startswith(f"{node_url}/play/")
            first, chunks = first_packet(c, url)
            try:
                # The line allows one connection: a second play kicks the first, and the
                # node cuts it once its heartbeat brings the news.
                second, more = first_packet(c, url)
                cut = False
                end = time.monotonic() + 10
                try:
                    while time.monotonic() < end:
                        next(chunks)
                except (StopIteration, httpx.HTTPError):
                    cut = True
                assert cut, "the kicked viewer was still streaming"
                assert next(more)  # the new one plays on
                second.close()
            finally:
                first.close()


def test_a_watermarked_play_is_recorded_by_the_panel_and_tagged_by_the_node(
    panel: RunningServer, tmp_path: Path
) -> None:
    side = make_tenant(panel, "gamma", max_connections=2)
    with panel.ctx.db.transaction() as s:
        s.add(RightsRecord(tenant_id=side.id, item_type="channel", item_id=side.channel,
                           holder="League", starts_at=datetime(2020, 1, 1, tzinfo=UTC),
                           watermark=True))  # fmt: skip
    panel.ctx.events.publish(side.id, "catalog")
    _, token = add_server(panel, side.id, "edge-w")
    with start_node(tmp_path, panel, token) as node:
        node.wait_for(NODE_LINE, timeout=30)
        deadline = time.monotonic() + 20
        with httpx.Client(base_url=panel.base_url, timeout=30) as c:
            url = f"/live/{side.line}/{PASSWORD}/{side.channel}.ts"
            while c.get(url, follow_redirects=False).status_code != 302:
                assert time.monotonic() < deadline, "the node did not register"
                time.sleep(0.2)
            response, chunks = first_packet(c, url)
            data = bytearray()
            try:
                while len(read_tags(bytes(data))) < 2 and time.monotonic() < deadline + 20:
                    data += next(chunks)
            finally:
                response.close()
    with panel.ctx.db.session() as s:
        marks = s.query(WatermarkMark).filter_by(tenant_id=side.id).all()
    # Each 302 admitted a session (the polling ones included): the play that streamed is
    # the one the tag names, recorded with its line and the code of its session id.
    tagged = set(read_tags(bytes(data)))
    assert len(tagged) == 1, tagged
    (mark,) = [m for m in marks if m.session_id in tagged]
    assert (mark.line_id, mark.channel_id, mark.output) == (side.line_id, side.channel, "ts")
    assert mark.code == code_for(mark.session_id)


def test_the_panels_preview_and_the_public_watch_page_play_from_the_node(
    panel: RunningServer, tmp_path: Path
) -> None:
    side = make_tenant(panel, "beta", max_connections=1)
    with panel.ctx.db.transaction() as s:
        channel = s.get(Channel, side.channel)
        assert channel is not None
        channel.public_watch = True
    panel.ctx.events.publish(side.id, "catalog")
    _, token = add_server(panel, side.id, "edge-b")
    with start_node(tmp_path, panel, token) as node:
        node_url = node.wait_for(NODE_LINE, timeout=30).group(1)
        with root_client(panel) as admin:
            r = admin.post(f"/api/v1/live/channels/{side.channel}/preview")
            assert r.status_code == 200, r.text
            preview = r.json()["url"]
            ref = admin.get(f"/api/v1/channels/{side.channel}/share-link").json()["ref"]
        with httpx.Client(base_url=panel.base_url, timeout=30) as c:
            watch = c.get(f"/api/v1/watch/{ref}").json()
            assert watch["access"] == "public", watch
            for path in (preview, watch["hls_url"]):
                deadline = time.monotonic() + 20
                while True:  # until the node has registered
                    r = c.get(path, follow_redirects=False)
                    if r.status_code == 302 or time.monotonic() > deadline:
                        break
                    time.sleep(0.2)
                assert r.status_code == 302, r.text
                assert r.headers["location"].startswith(f"{node_url}/play/")
                playlist = c.get(r.headers["location"])
                assert playlist.status_code == 200, playlist.text
                assert playlist.text.startswith("#EXTM3U")
                segment = next(x for x in playlist.text.splitlines() if x and x[0] != "#")
                data = c.get(urljoin(r.headers["location"], segment)).content
                assert data[:1] == b"\x47" and len(data) > 10_000
