"""Catch-up in ``palinsesto panel`` mode: a channel with ``archive_days`` is recorded by the
real ``palinsesto node`` that runs it, the node's heartbeats tell the panel what its
archive holds (the player API's ``tv_archive``), and a timeshift URL asked of the panel is
sent by a 302 to that node, where ffmpeg plays the window."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from palinsesto.accounts.models import Tenant
from palinsesto.catalog import syndication
from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ItemType
from palinsesto.catalog.syndication import OfferTerms
from palinsesto.protocol.play_tokens import PlayTokens, window_subject
from support.admin_api import make_tenant as make_staffed_tenant
from support.admin_api import root_client
from support.media import FFMPEG
from support.node_world import PASSWORD, TenantSide, add_server, make_tenant
from support.serve_process import serve_env, serve_process
from support.server import RunningServer, make_settings, run_server

NODE_LINE = re.compile(r"Serving players on (http://\S+) ")


@pytest.fixture
def panel(sqlite_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    settings = make_settings(tmp_path / "panel", sqlite_url, node_heartbeat_seconds=0.5)
    with run_server(settings, local_node=False) as running:
        yield running


def _add_archived(panel: RunningServer, side: TenantSide) -> int:
    with panel.ctx.db.transaction() as s:
        channel = Channel(
            tenant_id=side.id,
            name="recorded",
            sources=[{"kind": "test_pattern", "url": "testsrc://320x180@25"}],
            archive_days=1,
        )
        s.add(channel)
        s.flush()
        bouquet = s.query(Bouquet).filter_by(tenant_id=side.id).one()
        s.add(BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=channel.id))
        channel_id = channel.id
    panel.ctx.events.publish(side.id, "catalog")
    return channel_id


def _tv_archive(panel: RunningServer, side: TenantSide, channel_id: int) -> int:
    r = httpx.get(
        f"{panel.base_url}/player_api.php",
        params={"username": side.line, "password": PASSWORD, "action": "get_live_streams"},
        timeout=10,
    )
    r.raise_for_status()
    return next(int(s["tv_archive"]) for s in r.json() if s["stream_id"] == channel_id)


def test_a_timeshift_window_plays_from_the_node_that_records_the_channel(
    panel: RunningServer, tmp_path: Path
) -> None:
    side = make_tenant(panel, "catchup", max_connections=2)
    channel_id = _add_archived(panel, side)
    _, token = add_server(panel, side.id, "recorder")
    env = serve_env(tmp_path / "node", NODE_HEARTBEAT_SECONDS="0.5")
    with serve_process(env, "--panel", panel.base_url, "--token", token, command="node") as n:
        node_url = n.wait_for(NODE_LINE, timeout=30).group(1)
        # The node records the channel and says what it holds in its heartbeats.
        control = panel.ctx.services["nodes"]
        deadline = time.monotonic() + 60
        minute = 0.0
        while time.monotonic() < deadline:
            held = control.archives.stretches((side.id, channel_id))
            if held:
                # A window is whole minutes: wait until the newest minute holds 8 s.
                first, newest = held[0][0][0], held[0][-1][1]
                if newest - max(first, newest // 60 * 60) >= 8:
                    minute = newest // 60 * 60
                    break
            time.sleep(0.5)
        assert minute, n.output[-3000:]
        assert _tv_archive(panel, side, channel_id) == 1
        assert _tv_archive(panel, side, side.channel) == 0  # not recorded anywhere
        start = datetime.fromtimestamp(minute, UTC).strftime("%Y-%m-%d:%H-%M")
        url = f"{panel.base_url}/timeshift/{side.line}/{PASSWORD}/1/{start}/{channel_id}.ts"
        with httpx.Client(timeout=10) as c:
            r = c.get(url, follow_redirects=False)
            assert r.status_code == 302, r.text
            assert r.headers["location"].startswith(f"{node_url}/archive/")
            # A window the archive does not hold: refused by the panel, no node asked.
            old = f"{panel.base_url}/timeshift/{side.line}/{PASSWORD}/1/2020-01-01:00-00/"
            r = c.get(f"{old}{channel_id}.ts", follow_redirects=False)
            assert r.status_code == 404 and b"NO_ARCHIVE" in r.content
        run = subprocess.run(
            [FFMPEG, "-hide_banner", "-nostdin", "-i", url, "-f", "null", "-"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        frames = re.findall(r"frame=\s*(\d+)", run.stderr)
        assert frames and int(frames[-1]) >= 25 * 5, run.stderr[-1000:]
        # The HLS form: a VOD playlist of the window's pieces, from the node.
        hls = url.rsplit(".", 1)[0] + ".m3u8"
        run = subprocess.run(
            [FFMPEG, "-hide_banner", "-nostdin", "-i", hls, "-f", "null", "-"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        frames = re.findall(r"frame=\s*(\d+)", run.stderr)
        assert frames and int(frames[-1]) >= 25 * 5, run.stderr[-1000:]


def _carried(panel: RunningServer, owner: TenantSide, partner: TenantSide, channel_id: int) -> int:
    """``channel_id`` offered by ``owner`` to ``partner`` (approved at once) and put in the
    partner's bouquet: the partner's entry."""
    now = datetime.now(UTC)
    with panel.ctx.db.transaction() as s:
        code = s.get(Tenant, partner.id).partner_code  # type: ignore[union-attr]
        terms = OfferTerms(code, None, (), None, False, True)
        offer = syndication.make_offer(s, owner.id, channel_id, terms, now)
        _, entry = syndication.request(s, partner.id, offer.id, now)
        assert entry is not None
        bouquet = s.query(Bouquet).filter_by(tenant_id=partner.id).one()
        s.add(BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=entry.id))
        entry_id = entry.id
    panel.ctx.events.publish(partner.id, "catalog")
    return entry_id


def test_a_partners_catch_up_plays_from_the_owners_archive(
    panel: RunningServer, tmp_path: Path
) -> None:
    """A syndicated channel's window, asked with the partner's line (the partner has no
    nodes), is sent to the owner's node that records it, with a token for the owner's
    channel; the partner's plays count against the offer as its live plays do."""
    owner = make_tenant(panel, "archowner", max_connections=2)
    partner = make_tenant(panel, "archpartner", max_connections=2)
    channel_id = _add_archived(panel, owner)
    entry_id = _carried(panel, owner, partner, channel_id)
    _, token = add_server(panel, owner.id, "owner-recorder")
    env = serve_env(tmp_path / "node", NODE_HEARTBEAT_SECONDS="0.5")
    with serve_process(env, "--panel", panel.base_url, "--token", token, command="node") as n:
        node_url = n.wait_for(NODE_LINE, timeout=30).group(1)
        control = panel.ctx.services["nodes"]
        deadline = time.monotonic() + 60
        minute = 0.0
        while time.monotonic() < deadline:
            held = control.archives.stretches((owner.id, channel_id))
            if held:
                first, newest = held[0][0][0], held[0][-1][1]
                if newest - max(first, newest // 60 * 60) >= 8:
                    minute = newest // 60 * 60
                    break
            time.sleep(0.5)
        assert minute, n.output[-3000:]
        start = datetime.fromtimestamp(minute, UTC).strftime("%Y-%m-%d:%H-%M")
        url = f"{panel.base_url}/timeshift/{partner.line}/{PASSWORD}/1/{start}/{entry_id}.ts"
        with httpx.Client(timeout=10) as c:
            r = c.get(url, follow_redirects=False)
        assert r.status_code == 302, r.text
        location = r.headers["location"]
        assert location.startswith(f"{node_url}/archive/"), location
        keys = PlayTokens(list(control.keys.keys))
        token_part, start_part, minutes_part = location.split("/")[4:7]
        subject = window_subject(int(start_part), int(minutes_part.split(".")[0]))
        grant = keys.verify(token_part, time.time(), "127.0.0.1", subject=subject)
        assert (grant.tenant_id, grant.channel_id) == (owner.id, channel_id)
        run = subprocess.run(
            [FFMPEG, "-hide_banner", "-nostdin", "-i", url, "-f", "null", "-"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        frames = re.findall(r"frame=\s*(\d+)", run.stderr)
        assert frames and int(frames[-1]) >= 25 * 5, run.stderr[-1000:]


def test_the_archive_api_lists_what_each_node_records_to_its_tenant_only(
    panel: RunningServer, tmp_path: Path
) -> None:
    side = make_tenant(panel, "archived", max_connections=2)
    channel_id = _add_archived(panel, side)
    server_id, token = add_server(panel, side.id, "recorder")
    env = serve_env(tmp_path / "node", NODE_HEARTBEAT_SECONDS="0.5")
    with serve_process(env, "--panel", panel.base_url, "--token", token, command="node") as n:
        n.wait_for(NODE_LINE, timeout=30)
        deadline = time.monotonic() + 60
        with root_client(panel) as admin:
            while True:
                r = admin.get("/api/v1/archive", params={"tenant_id": side.id})
                assert r.status_code == 200, r.text
                [tenant] = r.json()["tenants"]
                [row] = [c for c in tenant["channels"] if c["channel_id"] == channel_id]
                if row["nodes"] and row["nodes"][0]["bytes"] > 0 and row["newest"]:
                    if row["newest"] - row["oldest"] >= 4:
                        break
                assert time.monotonic() < deadline, (row, n.output[-3000:])
                time.sleep(0.5)
        [node] = row["nodes"]
        assert node["node_id"] == server_id and node["recording"] is True
        assert node["gaps"] == 0 and row["gaps"] == 0
        assert time.time() - 30 < node["newest"] <= time.time() + 1
        assert node["oldest"] < node["newest"]
        assert (row["oldest"], row["newest"]) == (node["oldest"], node["newest"])
        assert row["bytes"] == node["bytes"] and tenant["used_bytes"] == node["bytes"]
        assert row["recording"] is True and row["archive_days"] == 1
        # The bytes are the node's recordings' size (about what 4 s of the pattern take).
        assert node["bytes"] > 50_000
        assert side.channel not in [c["channel_id"] for c in tenant["channels"]]
        # Another tenant's owner sees its own (empty) archive, and a 404 for this one.
        other = make_staffed_tenant(panel, "archive-elsewhere")
        with other.client("owner") as c:
            mine = c.get("/api/v1/archive").json()["tenants"]
            assert [(t["tenant_id"], t["channels"]) for t in mine] == [(other.id, [])]
            assert c.get("/api/v1/archive", params={"tenant_id": side.id}).status_code == 404
