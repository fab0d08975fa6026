"""``palinsesto node`` as a real process against a stand-in panel (support/node_panel.py).

Players are real: ffmpeg decodes what the node serves, and TS viewers are raw sockets
reading the stream. Every node process runs with ``import sqlalchemy`` made to fail and
logged (node_process asserts nothing tried).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from palinsesto.protocol.messages import Assignment, NodeState
from palinsesto.protocol.play_tokens import PlayKind, SigningKey
from support.media import decoded_frame_size, play
from support.node_panel import node_process, pattern_channel, stand_in_panel
from support.stand_ins import closed_port

CHANNEL = pattern_channel(7)


async def open_ts(url: str) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter]:
    """A TS player's request: the status, and the socket to keep reading."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    return int(head.split()[1]), reader, writer


async def read_for(reader: asyncio.StreamReader, seconds: float) -> tuple[int, bool]:
    """Bytes read in ``seconds``, and whether the server closed the stream meanwhile."""
    total, deadline = 0, time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            data = await asyncio.wait_for(reader.read(65536), left)
        except TimeoutError:
            break
        if not data:
            return total, True
        total += len(data)
    return total, False


def server_side_connections(port: int) -> int:
    """Established TCP connections accepted on ``port`` (this machine, IPv4)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == "01":
            count += 1
    return count


def loaded_sqlalchemy(pid: int) -> list[str]:
    """SQLAlchemy's compiled modules mapped into a process (what importing it loads)."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return sorted({line.split()[-1] for line in maps.splitlines() if "sqlalchemy" in line})


def test_a_wrong_token_stops_the_node_with_one_line(tmp_path: Path) -> None:
    with stand_in_panel() as panel:
        panel.add_node(1)
        with node_process(tmp_path, panel.url, "not-the-token") as node:
            assert node.proc.wait(timeout=60) == 1
        refused = [line for line in node.lines if "refused this node's token" in line]
        assert len(refused) == 1, node.output
        assert "Traceback" not in node.output
        assert panel.refused == ["/node-api/v1/register"]


def test_a_taken_port_stops_the_node_with_one_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with stand_in_panel() as panel:
            token, view = panel.add_node(1)
            with node_process(tmp_path, panel.url, token, live_listen=f"127.0.0.1:{port}") as node:
                assert node.proc.wait(timeout=60) == 1
    assert "PALINSESTO_LIVE_LISTEN" in node.output and "already in use" in node.output
    assert "Traceback" not in node.output and not view.registrations


def test_a_panel_away_at_start_is_retried_until_it_answers(tmp_path: Path) -> None:
    port = closed_port()
    panel_url = f"http://127.0.0.1:{port}"
    with stand_in_panel() as placeholder:  # only to make the token; serves elsewhere
        token, view = placeholder.add_node(9)
    with node_process(tmp_path, panel_url, token) as node:
        node.wait_for(rf"Panel {panel_url} unreachable .*retrying")
        time.sleep(1.5)
        with stand_in_panel() as panel:
            panel.nodes[token] = view
            panel.stop()
            panel.start(port)
            node.wait_for(rf"Registered as node 9 \(\S+\) for {panel_url}$", timeout=40)
        assert node.output.count("unreachable") == 1, node.output


async def test_node_registers_plays_ts_and_hls_and_reports_its_sessions(tmp_path: Path) -> None:
    with stand_in_panel() as panel:
        token, view = panel.add_node(3)
        view.assignments = [Assignment(CHANNEL)]
        with node_process(tmp_path, panel.url, token, node_name="edge-a") as node:
            node.wait_for(rf"Registered as node 3 \(edge-a\) for {panel.url}$")
            base = node.base_url
            registration = view.registrations[0]
            assert registration.name == "edge-a" and registration.public_url == base
            assert registration.capacity.egress_mbps == 1000

            ts = panel.issue(CHANNEL, PlayKind.ts, session_id=501)
            assert await decoded_frame_size(f"{base}/play/{ts}.ts") == (320, 180)
            ts = panel.issue(CHANNEL, PlayKind.ts, session_id=503)
            frames, log = await play(f"{base}/play/{ts}.ts", 3)
            assert frames >= 50, log

            hls = panel.issue(CHANNEL, PlayKind.hls, session_id=502)
            async with httpx.AsyncClient() as client:
                listed = await client.get(f"{base}/play/{hls}.m3u8")
            assert listed.status_code == 200, listed.text
            assert listed.headers["access-control-allow-origin"] == "*"
            assert f"/play/{hls}/" in listed.text
            frames, log = await play(f"{base}/play/{hls}.m3u8", 4)
            assert frames >= 75, log
            assert await decoded_frame_size(f"{base}/play/{hls}.m3u8") == (320, 180)

            # The heartbeats said which sessions started, were alive and ended.
            def reported(field: str, session_id: int) -> bool:
                return any(
                    session_id in [getattr(e, "session_id", e) for e in getattr(b, field)]
                    for b in view.heartbeats
                )

            panel.wait(lambda: reported("started", 501) and reported("started", 502))
            panel.wait(lambda: reported("alive", 502))
            panel.wait(lambda: reported("ended", 503), what="the TS session's end")
            ended = [e for b in view.heartbeats for e in b.ended if e.session_id == 503]
            assert len(ended) == 1 and ended[0].bytes_sent > 10_000, ended
            assert any(c.channel_id == 7 and c.healthy for b in view.heartbeats for c in b.channels)
            node.wait_for(r"^Channels running: 1, viewers: [12]")
            assert any(b.egress_mbps > 0 and b.cpu_percent > 0 for b in view.heartbeats)
            assert loaded_sqlalchemy(node.proc.pid) == []
            # A panel answering 5xx: one line, then heartbeats resume by themselves.
            with panel.lock:
                view.fail_heartbeats = 4
                beats = len(view.heartbeats)
            node.wait_for(r"unreachable \(HTTP 503")
            panel.wait(lambda: len(view.heartbeats) > beats + 1, what="heartbeats after 503s")
            assert node.output.count("HTTP 503") == 1, node.output
            # A panel that lost the node's registration: it registers again.
            with panel.lock:
                view.forget = True
            panel.wait(lambda: len(view.registrations) == 2, what="a second registration")
            node.wait_for(r"the panel does not know this node \(404")


async def test_refused_tokens_and_an_on_demand_channel(tmp_path: Path) -> None:
    with stand_in_panel() as panel:
        token, view = panel.add_node(4)
        view.assignments = [Assignment(CHANNEL)]
        extra = pattern_channel(8)
        view.on_demand[8] = Assignment(extra)
        with node_process(tmp_path, panel.url, token) as node:
            node.wait_for(r"Registered as node 4")
            base = node.base_url
            good = panel.issue(CHANNEL, PlayKind.ts, session_id=600)
            tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
            cases = {
                "expired": panel.issue(CHANNEL, PlayKind.ts, session_id=601, ttl=-5),
                "bad signature": tampered,
                "token is bound to another address": panel.issue(
                    CHANNEL, PlayKind.ts, session_id=602, client_ip="203.0.113.9"
                ),
                "the token opens a hls play": panel.issue(CHANNEL, PlayKind.hls, session_id=603),
            }
            async with httpx.AsyncClient() as client:
                for reason, bad in cases.items():
                    refused = await client.get(f"{base}/play/{bad}.ts")
                    assert refused.status_code == 403, (reason, refused.text)
                    assert refused.text.startswith(reason), (reason, refused.text)
                    assert refused.headers["access-control-allow-origin"] == "*"
                # A channel the panel does not place here: asked once, then a 404.
                elsewhere = panel.issue(pattern_channel(99), PlayKind.ts, session_id=604)
                for _ in range(2):
                    missing = await client.get(f"{base}/play/{elsewhere}.ts")
                    assert missing.status_code == 404, missing.text
                    assert "not carried by this node" in missing.text
                assert view.channel_fetches == [99]
                health = (await client.get(f"{base}/healthz")).json()
                assert health["taking_plays"] is True and health["node_id"] == 4
            # An on-demand channel not listed yet: fetched once, started, played.
            on_demand = panel.issue(extra, PlayKind.ts, session_id=605)
            assert await decoded_frame_size(f"{base}/play/{on_demand}.ts") == (320, 180)
            second = panel.issue(extra, PlayKind.ts, session_id=606)
            frames, log = await play(f"{base}/play/{second}.ts", 2)
            assert frames >= 25, log
            assert view.channel_fetches == [99, 8]


async def test_an_hls_session_plays_on_after_its_token_expired(tmp_path: Path) -> None:
    with stand_in_panel() as panel:
        panel.hls_timeout = 4
        token, view = panel.add_node(5)
        view.assignments = [Assignment(CHANNEL, always_on=True)]
        with node_process(tmp_path, panel.url, token) as node:
            node.wait_for(r"Channels running: 1")
            base = node.base_url
            hls = panel.issue(CHANNEL, PlayKind.hls, session_id=700, ttl=3)
            async with httpx.AsyncClient() as client:  # the play begins while it is valid
                assert (await client.get(f"{base}/play/{hls}.m3u8", timeout=30)).status_code == 200
            await asyncio.sleep(2.5)  # less than the session's idle timeout
            started = time.monotonic()
            frames, log = await play(f"{base}/play/{hls}.m3u8", 12, timeout=60)
            # ffmpeg reads at most the playlist's last 3 segments (6 s) at once, then follows
            # the live edge: playlist reloads and segments, all with the expired token.
            assert time.monotonic() - started > 6, log
            assert frames >= 12 * 25 * 0.9, log
            # Once the session timed out, the expired token opens nothing.
            panel.wait(
                lambda: any(e.session_id == 700 for b in view.heartbeats for e in b.ended),
                what="the HLS session's end",
            )
            async with httpx.AsyncClient() as client:
                again = await client.get(f"{base}/play/{hls}.m3u8")
            assert again.status_code == 403 and again.text.startswith("expired"), again.text


def last_segment(playlist: str) -> int:
    return int(playlist.rstrip("\n").rsplit("/", 1)[1].removesuffix(".ts"))


async def test_kept_hls_reloads_follow_the_window_the_session_the_address_and_the_keys(
    tmp_path: Path,
) -> None:
    """A reload is answered from what its token was checked against last time; each
    thing that check covered still decides the next reload."""
    with stand_in_panel() as panel:
        token, view = panel.add_node(10)
        view.assignments = [Assignment(CHANNEL, always_on=True)]
        with node_process(tmp_path, panel.url, token, trusted_proxies="127.0.0.1") as node:
            node.wait_for(r"Channels running: 1")
            base = node.base_url
            first = panel.issue(CHANNEL, PlayKind.hls, session_id=900)
            second = panel.issue(CHANNEL, PlayKind.hls, session_id=901)
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                # One keep-alive connection, the two plays' reloads taking turns.
                seen: dict[str, set[str]] = {first: set(), second: set()}
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and min(len(v) for v in seen.values()) < 2:
                    for mine, other in ((first, second), (second, first)):
                        answer = await client.get(f"/play/{mine}.m3u8")
                        assert answer.status_code == 200, answer.text
                        assert answer.headers["cache-control"] == "no-cache"
                        assert answer.headers["access-control-allow-origin"] == "*"
                        assert f"/play/{mine}/" in answer.text and other not in answer.text
                        seen[mine].add(answer.text)
                    await asyncio.sleep(0.1)
                # The kept playlist changed when a segment was cut, and the new one plays.
                for mine, texts in seen.items():
                    assert len(texts) >= 2, texts
                    newest = max(texts, key=last_segment)
                    assert last_segment(newest) > last_segment(min(texts, key=last_segment))
                    segment = await client.get(f"/play/{mine}/{last_segment(newest)}.ts")
                    assert segment.status_code == 200 and segment.content[0] == 0x47
                # Another address behind the trusted proxy: the token is bound to 127.0.0.1.
                moved = await client.get(
                    f"/play/{first}.m3u8", headers={"x-forwarded-for": "203.0.113.5"}
                )
                assert moved.status_code == 403 and "another address" in moved.text
                tampered = first[:-3] + ("AAA" if not first.endswith("AAA") else "BBB")
                refused = await client.get(f"/play/{tampered}.m3u8")
                assert refused.status_code == 403 and refused.text.startswith("bad signature")
                assert (await client.get(f"/play/{first}.m3u8")).status_code == 200
                # The panel ends one session: its reloads stop, the other's go on.
                with panel.lock:
                    view.end_sessions = [900]
                panel.wait(
                    lambda: any(e.session_id == 900 for b in view.heartbeats for e in b.ended),
                    what="the ended session's report",
                )
                ended = await client.get(f"/play/{first}.m3u8")
                assert ended.status_code == 403 and ended.text.startswith("session ended")
                assert (await client.get(f"/play/{first}/0.ts")).status_code == 403
                assert (await client.get(f"/play/{second}.m3u8")).status_code == 200
                # The key that signed it retired: even a live session's token stops.
                with panel.lock:
                    panel.keys = [SigningKey(2, secrets.token_bytes(32))]
                    beats = len(view.heartbeats)
                panel.wait(lambda: len(view.heartbeats) > beats + 1, what="the new key ring")
                retired = await client.get(f"/play/{second}.m3u8")
                assert retired.status_code == 403 and retired.text.startswith("unknown key")


async def test_the_panel_ends_sessions_drains_and_revokes(tmp_path: Path) -> None:
    with stand_in_panel() as panel:
        token, view = panel.add_node(6)
        view.assignments = [Assignment(CHANNEL, always_on=True)]
        with node_process(tmp_path, panel.url, token) as node:
            node.wait_for(r"Channels running: 1")
            base = node.base_url
            ts = panel.issue(CHANNEL, PlayKind.ts, session_id=800)
            status, first, first_writer = await open_ts(f"{base}/play/{ts}.ts")
            assert status == 200
            got, closed = await read_for(first, 1.5)
            assert got > 0 and not closed
            # The same token again (a player reconnecting) replaces the first connection.
            status, reader, writer = await open_ts(f"{base}/play/{ts}.ts")
            assert status == 200
            _, closed = await read_for(first, 3)
            assert closed
            first_writer.close()
            got, closed = await read_for(reader, 1.5)
            assert got > 0 and not closed
            asked = time.monotonic()
            with panel.lock:
                view.end_sessions = [800]
            _, closed = await read_for(reader, 5)
            assert closed and time.monotonic() - asked < 2.5
            writer.close()
            panel.wait(lambda: any(e.session_id == 800 for b in view.heartbeats for e in b.ended))
            with panel.lock:
                started = [b for b in view.heartbeats if 800 in b.started]
                ended = [e for b in view.heartbeats for e in b.ended if e.session_id == 800]
            assert len(started) == 1 and [e.reason for e in ended] == ["ended by the panel"]
            async with httpx.AsyncClient() as client:
                again = await client.get(f"{base}/play/{ts}.ts")
                assert again.status_code == 403 and again.text.startswith("session ended")

                with panel.lock:
                    view.state = NodeState.draining
                fresh = panel.issue(CHANNEL, PlayKind.ts, session_id=801)
                panel.wait(lambda: len(view.heartbeats) > 2)  # a reply after the change
                await asyncio.sleep(1.5)
                drained = await client.get(f"{base}/play/{fresh}.ts")
                assert drained.status_code == 503 and "NODE_DRAINING" in drained.text
                node.wait_for(r"WARNING \S+: the panel set this node draining")

                with panel.lock:
                    view.state = NodeState.online
                # Back online is normal operation: said at INFO, not as a warning.
                node.wait_for(r"INFO \S+: the panel set this node online")
                assert "WARNING palinsesto.node.panel_link: the panel set this node online" not in (
                    node.output
                )
                with panel.lock:
                    del panel.nodes[token]  # the node's token is revoked
                node.wait_for(r"refused this node's token \(401")
                revoked = await client.get(f"{base}/play/{fresh}.ts")
                assert revoked.status_code == 503 and "NODE_REVOKED" in revoked.text
            await asyncio.sleep(2)
            assert node.output.count("refused this node's token") == 1, node.output


async def test_the_node_serves_on_while_the_panel_is_away(tmp_path: Path) -> None:
    with stand_in_panel() as panel:
        token, view = panel.add_node(7)
        view.assignments = [Assignment(CHANNEL, always_on=True)]
        with node_process(tmp_path, panel.url, token) as node:
            node.wait_for(r"Channels running: 1")
            base = node.base_url
            first = panel.issue(CHANNEL, PlayKind.ts, session_id=900)
            status, reader, writer = await open_ts(f"{base}/play/{first}.ts")
            assert status == 200
            panel.stop()
            node.wait_for(r"unreachable .*serving from memory")
            got, closed = await read_for(reader, 3)
            assert got > 10_000 and not closed  # the admitted viewer keeps watching
            # A new play signed with the keys the node holds is served.
            later = panel.issue(CHANNEL, PlayKind.ts, session_id=901)
            frames, log = await play(f"{base}/play/{later}.ts", 2)
            assert frames >= 25, log
            writer.close()
            await asyncio.sleep(3)  # several failed attempts: still one line
            assert node.output.count("unreachable") == 1, node.output
            # The panel is back: what happened meanwhile is reported.
            panel.start(panel.port)
            panel.wait(
                lambda: (
                    any(901 in b.started for b in view.heartbeats)
                    and any(e.session_id == 901 for b in view.heartbeats for e in b.ended)
                ),
                what="sessions of the outage reported",
            )
            node.wait_for(r"panel .* reachable")


async def test_an_edge_pulls_its_origin_once(tmp_path: Path) -> None:
    with stand_in_panel() as panel:
        origin_token, origin_view = panel.add_node(1)
        edge_token, edge_view = panel.add_node(2)
        origin_view.assignments = [Assignment(CHANNEL)]
        (tmp_path / "origin").mkdir()
        (tmp_path / "edge").mkdir()
        with node_process(tmp_path / "origin", panel.url, origin_token) as origin:
            origin_base = origin.base_url
            origin_port = urlsplit(origin_base).port
            assert origin_port is not None
            origin.wait_for(r"Registered as node 1")
            with panel.lock:
                edge_view.assignments = [Assignment(CHANNEL, origin_url=origin_base)]
            with node_process(tmp_path / "edge", panel.url, edge_token) as edge:
                edge.wait_for(r"Registered as node 2")
                base = edge.base_url
                viewers = []
                for session_id in (1001, 1002):
                    ts = panel.issue(CHANNEL, PlayKind.ts, session_id=session_id)
                    status, reader, writer = await open_ts(f"{base}/play/{ts}.ts")
                    assert status == 200
                    viewers.append((reader, writer))
                hls = panel.issue(CHANNEL, PlayKind.hls, session_id=1003)
                frames, log = await play(f"{base}/play/{hls}.m3u8", 3)
                assert frames >= 50, log
                for reader, _ in viewers:
                    got, closed = await read_for(reader, 1)
                    assert got > 0 and not closed
                assert server_side_connections(origin_port) == 1
                origin.wait_for(r"edges pulling: 1")
                # The relay is not a viewer of the origin: no session, nothing reported.
                panel.wait(
                    lambda: any(c.channel_id == 7 for c in origin_view.heartbeats[-1].channels)
                )
                assert all(b.viewers == 0 and not b.started for b in origin_view.heartbeats)
                panel.wait(lambda: edge_view.heartbeats[-1].viewers >= 2)
                # A node stopped tells the panel its sessions ended (their slots free now).
                edge.stop()
                assert edge.proc.returncode == 0, edge.output
                reasons = {e.session_id: e.reason for b in edge_view.heartbeats for e in b.ended}
                assert reasons.get(1001) == reasons.get(1002) == "node stopping", reasons
                for _, writer in viewers:
                    writer.close()


async def test_a_draining_origin_keeps_feeding_its_edges(tmp_path: Path) -> None:
    """Draining sends new viewers elsewhere; the panel places them on an edge that pulls
    from the draining origin (the channel stays placed there while its viewers watch), so
    the origin serves the relay while its own viewer plays on."""
    with stand_in_panel() as panel:
        origin_token, origin_view = panel.add_node(1)
        edge_token, edge_view = panel.add_node(2)
        origin_view.assignments = [Assignment(CHANNEL)]
        (tmp_path / "origin").mkdir()
        (tmp_path / "edge").mkdir()
        with node_process(tmp_path / "origin", panel.url, origin_token) as origin:
            origin.wait_for(r"Registered as node 1")
            base = origin.base_url
            ts = panel.issue(CHANNEL, PlayKind.ts, session_id=1101)
            status, reader, writer = await open_ts(f"{base}/play/{ts}.ts")
            assert status == 200
            with panel.lock:
                origin_view.state = NodeState.draining
            async with httpx.AsyncClient() as client:

                async def taking_plays() -> bool:
                    return bool((await client.get(f"{base}/healthz")).json()["taking_plays"])

                deadline = time.monotonic() + 10
                while await taking_plays():
                    assert time.monotonic() < deadline, "the origin never saw it drains"
                    await asyncio.sleep(0.2)
                fresh = panel.issue(CHANNEL, PlayKind.ts, session_id=1102)
                refused = await client.get(f"{base}/play/{fresh}.ts")
                assert refused.status_code == 503 and "NODE_DRAINING" in refused.text
            with panel.lock:
                edge_view.assignments = [Assignment(CHANNEL, origin_url=base)]
            with node_process(tmp_path / "edge", panel.url, edge_token) as edge:
                edge.wait_for(r"Registered as node 2")
                hls = panel.issue(CHANNEL, PlayKind.hls, session_id=1103)
                frames, log = await play(f"{edge.base_url}/play/{hls}.m3u8", 3)
                assert frames >= 50, log
                # A 404 anywhere, not the digits inside a port or a log line's milliseconds.
                assert not re.search(r"(?<![\d,.:])404(?!\d)", origin.output + edge.output)
                got, closed = await read_for(reader, 1)  # the drained node's own viewer
                assert got > 0 and not closed
            writer.close()


async def test_a_source_the_policy_refuses_is_logged_with_the_setting_that_allows_it(
    tmp_path: Path,
) -> None:
    port = closed_port()
    with stand_in_panel() as panel:
        token, view = panel.add_node(5)
        private = pattern_channel(
            9, sources=({"kind": "http_ts", "url": f"http://127.0.0.1:{port}/feed.ts"},)
        )
        view.assignments = [Assignment(private)]
        with node_process(tmp_path, panel.url, token) as node:
            node.wait_for(r"Registered as node 5")
            play_token = panel.issue(private, PlayKind.ts, session_id=700)
            async with httpx.AsyncClient(timeout=30) as client:
                refused = await client.get(f"{node.base_url}/play/{play_token}.ts")
            assert (refused.status_code, refused.text) == (503, "STREAM_OFFLINE\n")
            logged = node.wait_for(r"channel 9: source 0 refused: (.*)")
            assert "not an address this server may fetch from" in logged.group(1)
            assert "PALINSESTO_OUTBOUND_ALLOW_NETWORKS" in logged.group(1)
