"""The cluster as it is deployed, on loopback with real processes: two `palinsesto panel`
replicas on one PostgreSQL database and one Redis key prefix, three `palinsesto node`
processes of one tenant, seeded through the admin API of replica 1, and ffmpeg as the
viewers' players (the same topology as docker-compose.yml, started with plain processes).

One topology serves the whole module (starting it is most of the time); the tests run in
file order: the node kill and the panels' stop come last, as they change the topology.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from support.databases import temporary_database
from support.media import FFMPEG
from support.node_panel import NodeProcess, node_process
from support.redis_servers import REDIS_URL, redis_prefix
from support.serve_process import BIN, ServeProcess, serve_env, serve_process

HEARTBEAT_SECONDS = 0.5
LEASE_SECONDS = 3.0
ADMIN_PASSWORD = "topology-admin-pw"
LINE_PASSWORD = "topology-line-pw"
PATTERN = {"kind": "test_pattern", "url": "testsrc://320x180@25"}
WIDTH, HEIGHT = 320, 180
# Lines by test: what each may hold at once (0: unlimited).
LINES = {"play": 10, "pair": 2, "drain": 0, "failover": 1, "orphan": 0}
REGISTERED = re.compile(r"^Registered as node (\d+) ", re.M)

# ffmpeg probes a live TS for 5 s by default before its first decoded frame (to guess
# the frame rate); apps start on the first keyframe. The player probes 1 s, as the nodes'
# own pulls do (node/ffmpeg.py), so the failover gap measures the cluster, not the probe.
PLAYER_PROBE = ("-analyzeduration", "1000000")

T = TypeVar("T")


@dataclass
class Topology:
    panels: list[ServeProcess]
    nodes: dict[int, NodeProcess]  # by node id (the server's id in the panel)
    env: dict[str, str]  # the panels' environment: what `palinsesto nodes` reads
    admin: httpx.Client  # signed in at replica 1
    channel: int
    killed: set[int] = field(default_factory=set)

    @property
    def urls(self) -> list[str]:
        return [p.base_url for p in self.panels]

    def play_url(self, panel: int, line: str, ext: str = "ts") -> str:
        return f"{self.urls[panel]}/live/{line}/{LINE_PASSWORD}/{self.channel}.{ext}"

    def node_of(self, location: str) -> int:
        """The node a 302's Location points at."""
        for node_id, node in self.nodes.items():
            if location.startswith(f"{node.base_url}/play/"):
                return node_id
        raise AssertionError(f"{location} is none of the nodes")

    def status(self) -> dict[int, dict[str, Any]]:
        r = self.admin.get("/api/v1/nodes/status")
        assert r.status_code == 200, r.text
        return {item["id"]: item for item in r.json()["items"]}


def wait_until(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen in {timeout} s: {what}")
        time.sleep(0.1)


def created(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 201, r.text
    return r.json()


def seed(admin: httpx.Client) -> tuple[int, list[tuple[int, str]]]:
    """A tenant that refuses plays above a line's limit, an on-demand test-pattern
    channel, a bouquet, the lines, and three servers: the channel id and the servers'
    (id, token)."""
    tenant = created(
        admin.post(
            "/api/v1/tenants",
            json={"name": "Topology", "slug": "topology", "connection_policy": "refuse"},
        )
    )["id"]
    channel = created(
        admin.post(
            "/api/v1/channels",
            json={"name": "Pattern", "sources": [PATTERN], "tenant_id": tenant},
        )
    )["id"]
    bouquet = created(admin.post("/api/v1/bouquets", json={"name": "All", "tenant_id": tenant}))
    r = admin.put(
        f"/api/v1/bouquets/{bouquet['id']}/items",
        json={"items": [{"item_type": "channel", "item_id": channel}]},
    )
    assert r.status_code == 200, r.text
    for name, limit in LINES.items():
        created(
            admin.post(
                "/api/v1/lines",
                json={
                    "username": name,
                    "password": LINE_PASSWORD,
                    "max_connections": limit,
                    "bouquet_ids": [bouquet["id"]],
                    "tenant_id": tenant,
                },
            )
        )
    servers = []
    for i in (1, 2, 3):
        body = {"name": f"node{i}", "public_url": f"http://node{i}.invalid", "tenant_id": tenant}
        server = created(admin.post("/api/v1/servers", json=body))
        servers.append((server["id"], server["token"]))
    return channel, servers


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    root = tmp_path_factory.mktemp("topology")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(temporary_database("postgresql", root))
        prefix = stack.enter_context(redis_prefix())
        shared = {
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "REDIS_KEY_PREFIX": prefix,
            "SECRET_KEY": secrets.token_urlsafe(32),  # one key: replica 1's sign-in is 2's
            "ADMIN_PASSWORD": ADMIN_PASSWORD,
            "NODE_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "NODE_LEASE_SECONDS": str(LEASE_SECONDS),
        }
        envs = [serve_env(root / f"panel{i}", **shared) for i in (1, 2)]
        panels = [stack.enter_context(serve_process(env, command="panel")) for env in envs]
        for panel in panels:
            panel.wait_healthy()
        admin = stack.enter_context(httpx.Client(base_url=panels[0].base_url, timeout=30))
        r = admin.post("/api/v1/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        admin.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        channel, servers = seed(admin)
        nodes: dict[int, NodeProcess] = {}
        for i, (server_id, token) in enumerate(servers):
            folder = root / f"node{i + 1}"
            folder.mkdir()
            panel_url = panels[i % 2].base_url  # nodes 1 and 3 on replica 1, node 2 on 2
            nodes[server_id] = stack.enter_context(
                node_process(folder, panel_url, token, NODE_NAME=f"node{i + 1}")
            )
        for server_id, node in nodes.items():
            assert int(node.wait_for(REGISTERED).group(1)) == server_id
        world = Topology(panels, nodes, envs[0], admin, channel)
        wait_until(
            lambda: (
                all(s["state"] == "online" for s in world.status().values())
                and len(world.status()) == 3
            ),
            10,
            "three nodes online",
        )
        yield world


# ---- players ----


def admit(url: str) -> httpx.Response:
    with httpx.Client(timeout=30) as c:
        return c.get(url, follow_redirects=False)


def admit_302(url: str, timeout: float = 15) -> str:
    """The Location of a 302 for ``url`` (retried while nodes come up)."""

    def once() -> str | None:
        r = admit(url)
        return r.headers["location"] if r.status_code == 302 else None

    return wait_until(once, timeout, f"a 302 for {url}")


def decode(url: str, frames: int = 25) -> bytes:
    """``frames`` frames decoded by ffmpeg from ``url`` (following the 302), as gray
    320x180 pictures (ffmpeg scales nothing: a wrong size fails the length check)."""
    result = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", url,
         "-map", "0:v:0", "-frames:v", str(frames), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def video_size(url: str) -> str:
    result = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-i", url, "-map", "0:v:0", "-frames:v", "1",
         "-f", "null", "-"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    found = re.search(r"Video: .*?, (\d+x\d+)", result.stderr)
    assert found, result.stderr
    return found.group(1)


class Player:
    """What an app does: play the panel URL with ffmpeg, and when ffmpeg stops, go back to
    the panel URL. Decoded frame counts are recorded with the time (``-progress``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.frames: list[tuple[float, int, int]] = []  # (monotonic, run, frame count)
        self.runs = 0
        self.log: list[str] = []  # each run: when it started and ended, what ffmpeg said
        self._stop = threading.Event()
        self._proc: subprocess.Popen[str] | None = None
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Player:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
        self._thread.join(timeout=15)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.runs += 1
            run = self.runs
            proc = subprocess.Popen(
                [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error",
                 "-progress", "pipe:1", "-stats_period", "0.1", *PLAYER_PROBE,
                 "-i", self.url, "-map", "0:v:0", "-f", "null", "-"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            began = time.monotonic()
            self._proc = proc
            assert proc.stdout is not None
            last = 0
            for line in proc.stdout:
                if line.startswith("frame="):
                    count = int(line.split("=", 1)[1])
                    if count > last:
                        last = count
                        self.frames.append((time.monotonic(), run, count))
            proc.wait()
            said = proc.stderr.read().strip().replace("\n", " | ") if proc.stderr else ""
            first = next((at for at, r, _ in self.frames if r == run), None)
            start = f" first frame +{first - began:.2f} s" if first else ""
            self.log.append(f"run {run}: {began:.2f}-{time.monotonic():.2f}{start} {said[-200:]}")
            self._stop.wait(0.1)

    def frames_since(self, moment: float) -> int:
        return sum(1 for at, _, _ in self.frames if at > moment)

    def playing(self) -> bool:
        return bool(self.frames) and time.monotonic() - self.frames[-1][0] < 1.0


def ts_reader(url: str) -> tuple[httpx.Client, httpx.Response, Iterator[bytes]]:
    client = httpx.Client(timeout=30)
    response = client.send(client.build_request("GET", url), stream=True)
    assert response.status_code == 200, response.read()
    return client, response, response.iter_bytes()


def node_serving(world: Topology) -> int:
    """The one live node with a viewer (from the nodes' heartbeats; a lost node's
    viewers read as unknown, None)."""

    def one() -> int | None:
        watched = [i for i, s in world.status().items() if (s["viewers"] or 0) > 0]
        return watched[0] if len(watched) == 1 else None

    return wait_until(one, 10, "exactly one node with a viewer")


# ---- the tests, in order ----


def test_nodes_command_lists_the_three_nodes(topology: Topology) -> None:
    result = subprocess.run(
        [str(BIN), "nodes"], env=topology.env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if re.search(r"\bnode[123]\b", line)]
    assert len(rows) == 3, result.stdout
    for row in rows:
        assert "topology" in row and "online" in row, row


def test_the_node_processes_never_load_the_database(topology: Topology) -> None:
    for node in topology.nodes.values():
        assert "PALINSESTO_DATABASE_URL" not in _environ(node.proc.pid)
        maps = Path(f"/proc/{node.proc.pid}/maps").read_text()
        assert "sqlalchemy" not in maps and "psycopg" not in maps
        assert node.sqlalchemy_imports() == ""  # the guard: importing it would have failed


def _environ(pid: int) -> str:
    return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")


def test_a_play_through_either_replica_is_served_by_a_node(topology: Topology) -> None:
    for panel in (0, 1):
        url = topology.play_url(panel, "play")
        topology.node_of(admit_302(url))  # a node's /play/ URL
        pictures = decode(url)
        assert len(pictures) == 25 * WIDTH * HEIGHT
        assert video_size(url) == f"{WIDTH}x{HEIGHT}"


def test_two_of_fifty_concurrent_attempts_over_both_replicas(topology: Topology) -> None:
    urls = [topology.play_url(i % 2, "pair") for i in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(admit, urls))
    said = Counter(f"{r.status_code} {r.text.strip()}" for r in answers if r.status_code != 302)
    assert sum(r.status_code == 302 for r in answers) == 2, said
    assert said == {"429 USER_MAX_CONNECTIONS": 48}, said
    locations = [r.headers["location"] for r in answers if r.status_code == 302]
    for location in locations:  # the two tokens play on nodes
        topology.node_of(location)
        client, response, chunks = ts_reader(location)
        try:
            assert next(chunks)[:1] == b"\x47"
        finally:
            response.close()
            client.close()


def test_a_killed_node_s_player_plays_again_elsewhere_within_5_s(topology: Topology) -> None:
    wait_until(lambda: all(not s["viewers"] for s in topology.status().values()), 10, "no viewers")
    url = topology.play_url(1, "failover")
    with Player(url) as player:
        wait_until(player.playing, 20, "the player decoding")
        serving = node_serving(topology)
        time.sleep(1)
        killed_at = time.monotonic()
        topology.nodes[serving].proc.kill()
        topology.killed.add(serving)
        run = player.runs
        wait_until(
            lambda: any(r > run for _, r, _ in player.frames), 20, "frames from a new ffmpeg"
        )
        before = max(at for at, _, _ in player.frames if at <= killed_at)
        after = min(at for at, r, _ in player.frames if r > run)
        gap = after - before
        print(f"failover gap: {gap:.2f} s (from the last frame before the kill)")
        assert gap <= 5.0, "\n".join(player.log)
        assert node_serving(topology) != serving
    # The line (one connection) is not left full: a new play is admitted at once.
    started = time.monotonic()
    admit_302(url, timeout=LEASE_SECONDS)
    print(f"new play on the one-connection line admitted after {time.monotonic() - started:.2f} s")


def test_a_drained_node_gets_no_new_viewer_and_keeps_its_own(topology: Topology) -> None:
    url = topology.play_url(0, "drain")
    with Player(url) as player:
        wait_until(player.playing, 20, "the player decoding")
        drained = node_serving(topology)
        r = topology.admin.post(f"/api/v1/servers/{drained}/drain", json={"draining": True})
        assert r.status_code == 200, r.text
        try:
            wait_until(
                lambda: topology.status()[drained]["state"] == "draining", 5, "draining state"
            )
            time.sleep(1)  # every replica's admission cache (0.5 s) has seen it
            since = time.monotonic()
            urls = [topology.play_url(i % 2, "drain") for i in range(20)]
            sent = [topology.node_of(admit_302(url)) for url in urls]
            assert drained not in sent, sent
            # The new viewer plays on an edge that pulls from the draining origin (the
            # channel stays placed there while its viewer watches).
            pictures = decode(topology.play_url(1, "drain"))
            assert len(pictures) == 25 * WIDTH * HEIGHT
            time.sleep(2)
            assert player.frames_since(since) > 0 and player.playing()
            assert player.runs == 1  # the same ffmpeg, never cut
        finally:
            r = topology.admin.post(f"/api/v1/servers/{drained}/drain", json={"draining": False})
            assert r.status_code == 200, r.text


def test_a_node_keeps_serving_its_viewer_when_both_panels_stop(topology: Topology) -> None:
    url = topology.play_url(0, "orphan")
    refused: list[str] = []

    def start() -> tuple[httpx.Client, httpx.Response, Iterator[bytes]] | None:
        """Admission and play, again from the panel URL when the node refuses (as apps do)."""
        location = admit_302(url)
        assert topology.node_of(location) not in topology.killed
        try:
            return ts_reader(location)
        except AssertionError as exc:
            refused.append(f"node {topology.node_of(location)}: {exc}")
            return None

    client, response, chunks = wait_until(start, 15, "a play that starts")
    if refused:
        print("plays refused before one started:", refused)
    try:
        assert next(chunks)[:1] == b"\x47"
        for panel in topology.panels:
            panel.stop()
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{topology.urls[0]}/healthz", timeout=2)
        stopped = time.monotonic()
        received = 0
        while time.monotonic() - stopped < 6:
            received += len(next(chunks))
        assert received > 50_000, received  # six seconds of a 320x180 pattern
    finally:
        response.close()
        client.close()
