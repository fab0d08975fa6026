"""Syndication with streaming nodes, on loopback with real processes: two `palinsesto panel`
replicas on one PostgreSQL database and one Redis prefix, one `palinsesto node` of the
owner (alpha), and ffmpeg as the players. Partners (bravo, charlie) have no nodes of their
own: their lines play alpha's channels through the panel, which sends them to alpha's node
(the same running channel, one ffmpeg), counts them against the offers' caps cluster-wide,
shows alpha per-partner audience, and cuts them when the syndication ends.

One topology serves the module; the tests run in file order (revocation comes last).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from palinsesto.protocol.messages import REGISTER_PATH, Capacity, Registration
from support.databases import temporary_database
from support.media import FFMPEG
from support.node_panel import NodeProcess, node_process
from support.redis_servers import REDIS_URL, redis_prefix
from support.serve_process import ServeProcess, serve_env, serve_process

HEARTBEAT_SECONDS = 2.0  # the default: the cut waits for a heartbeat
LEASE_SECONDS = 10.0
ADMIN_PASSWORD = "syndication-admin-pw"
STAFF_PASSWORD = "syndication-staff-pw"
LINE_PASSWORD = "syndication-line-pw"
PATTERN = {"kind": "test_pattern", "url": "testsrc://320x180@25"}
GEOIP = Path("/work/shared/geoip-test-mmdb/GeoLite2-Country-Test.mmdb")
GB, SE = "81.2.69.160", "89.160.20.112"  # per the test databases' README
CAP = 3  # charlie's offer: its viewers at once
TOTAL = 4  # a public offer's cap on all its partners' viewers together
CUT_WITHIN = 5.0  # seconds from the revocation to the end of bravo's stream (acceptance)
REGISTERED = re.compile(r"^Registered as node (\d+) ", re.M)

T = TypeVar("T")


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


@dataclass
class World:
    panels: list[ServeProcess]
    node: NodeProcess
    node_folder: Path
    alpha: httpx.Client  # alpha's owner, signed in at replica 1
    bravo: httpx.Client
    charlie: httpx.Client
    channel: int  # alpha's X, offered to bravo (and charlie, capped)
    ranged: int  # alpha's Y, offered to bravo in Sweden only
    entries: dict[str, int]  # bravo's and charlie's entries, by name
    syndications: dict[str, int]
    admin: httpx.Client  # the platform's admin (suspends and resumes panels)

    @property
    def urls(self) -> list[str]:
        return [p.base_url for p in self.panels]

    def play_url(self, panel: int, line: str, stream: int, ext: str = "ts") -> str:
        return f"{self.urls[panel]}/live/{line}/{LINE_PASSWORD}/{stream}.{ext}"


def _signed_in(base_url: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=30)
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return client


def _tenant(admin: httpx.Client, slug: str, base_url: str) -> httpx.Client:
    tenant = created(admin.post("/api/v1/tenants", json={"name": slug.title(), "slug": slug}))
    body = {"username": f"{slug}-owner", "password": STAFF_PASSWORD, "role": "owner",
            "tenant_id": tenant["id"]}  # fmt: skip
    created(admin.post("/api/v1/users", json=body))
    return _signed_in(base_url, f"{slug}-owner", STAFF_PASSWORD)


def _bundle(client: httpx.Client, name: str, channel: int, lines: dict[str, int]) -> None:
    """A bouquet holding ``channel``, and lines (name -> max_connections) with it."""
    bouquet = created(client.post("/api/v1/bouquets", json={"name": name}))
    items = [{"item_type": "channel", "item_id": channel}]
    r = client.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items})
    assert r.status_code == 200, r.text
    for username, limit in lines.items():
        body = {"username": username, "password": LINE_PASSWORD, "max_connections": limit,
                "bouquet_ids": [bouquet["id"]]}  # fmt: skip
        created(client.post("/api/v1/lines", json=body))


def _carry(
    owner: httpx.Client, partner: httpx.Client, channel: int, **terms: Any
) -> dict[str, Any]:
    """Offer ``channel`` to the partner (auto-approved); the partner's request."""
    code = partner.get("/api/v1/syndication/partner-code")
    assert code.status_code == 200, code.text
    body = {"channel_id": channel, "auto_approve": True, **terms}
    body["partner_code"] = code.json()["partner_code"]
    offer = created(owner.post("/api/v1/syndication/offers", json=body))
    return created(partner.post("/api/v1/syndication/requests", json={"offer_id": offer["id"]}))


def _register_a_node(client: httpx.Client, panel_url: str) -> None:
    """A node of the tenant registers once (its plays then go through node admission)."""
    body = {"name": "own-node", "public_url": "http://own-node.invalid"}
    token = created(client.post("/api/v1/servers", json=body))["token"]
    reg = Registration("own", "http://own-node.invalid", "", Capacity(1000, 100, 2), "test")
    r = httpx.post(f"{panel_url}{REGISTER_PATH}", json=reg.to_json(),
                   headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text


def _closed(stack: contextlib.ExitStack, client: httpx.Client) -> httpx.Client:
    stack.callback(client.close)
    return client


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("syndication-nodes")
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(temporary_database("postgresql", root))
        prefix = stack.enter_context(redis_prefix())
        shared = {
            "DATABASE_URL": url,
            "REDIS_URL": REDIS_URL,
            "REDIS_KEY_PREFIX": prefix,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "ADMIN_PASSWORD": ADMIN_PASSWORD,
            "NODE_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "NODE_LEASE_SECONDS": str(LEASE_SECONDS),
            "GEOIP_DB": str(GEOIP),
            "TRUSTED_PROXIES": "127.0.0.1",  # the territory test's viewers come via a proxy
        }
        envs = [serve_env(root / f"panel{i}", **shared) for i in (1, 2)]
        panels = [stack.enter_context(serve_process(env, command="panel")) for env in envs]
        for panel in panels:
            panel.wait_healthy()
        base = panels[0].base_url
        admin = _closed(stack, _signed_in(base, "admin", ADMIN_PASSWORD))
        alpha = _closed(stack, _tenant(admin, "alpha", base))
        bravo = _closed(stack, _tenant(admin, "bravo", panels[1].base_url))
        charlie = _closed(stack, _tenant(admin, "charlie", base))
        channels = [
            created(alpha.post("/api/v1/channels", json={"name": name, "sources": [PATTERN]}))["id"]
            for name in ("Drums Live", "Drums Nordic")
        ]
        _bundle(alpha, "Alpha", channels[0], {"alpha-viewer": 2})
        server = created(
            alpha.post(
                "/api/v1/servers", json={"name": "alpha-node", "public_url": "http://a.invalid"}
            )
        )
        bravo_x = _carry(alpha, bravo, channels[0])
        bravo_y = _carry(alpha, bravo, channels[1], territories=["SE"])
        charlie_x = _carry(alpha, charlie, channels[0], max_viewers=CAP)
        _bundle(bravo, "Bravo X", bravo_x["entry_channel_id"], {"bravo-viewer": 2})
        _bundle(bravo, "Bravo Y", bravo_y["entry_channel_id"], {"bravo-nordic": 2})
        _bundle(charlie, "Charlie", charlie_x["entry_channel_id"], {"charlie-viewer": 0})
        _register_a_node(charlie, panels[1].base_url)
        folder = root / "node"
        folder.mkdir()
        node = stack.enter_context(
            node_process(folder, panels[0].base_url, server["token"], NODE_NAME="alpha-node")
        )
        assert int(node.wait_for(REGISTERED).group(1)) == server["id"]
        yield World(
            panels, node, folder, alpha, bravo, charlie, channels[0], channels[1],
            {"bravo": bravo_x["entry_channel_id"], "nordic": bravo_y["entry_channel_id"],
             "charlie": charlie_x["entry_channel_id"]},
            {"bravo": bravo_x["id"], "charlie": charlie_x["id"]}, admin,
        )  # fmt: skip


# ---- players ----


def admit(url: str, forwarded_for: str = "") -> httpx.Response:
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    with httpx.Client(timeout=30) as c:
        return c.get(url, headers=headers, follow_redirects=False)


def admit_302(url: str, timeout: float = 20) -> str:
    """The Location of a 302 for ``url`` (retried while the node comes up)."""

    def once() -> str | None:
        r = admit(url)
        return r.headers["location"] if r.status_code == 302 else None

    return wait_until(once, timeout, f"a 302 for {url}")


def ffmpeg_children(pid: int) -> list[str]:
    """The command lines of ffmpeg processes descending from ``pid``."""
    parents: dict[int, int] = {}
    argv: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            argv[int(entry)] = (
                Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            )
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])

    def descends(p: int) -> bool:
        while p > 1:
            p = parents.get(p, 0)
            if p == pid:
                return True
        return False

    return [a for p, a in argv.items() if descends(p) and "ffmpeg" in a.split(" ", 1)[0]]


class TsPlayer:
    """A TS viewer that reads the node's stream (after the panel's 302) until it ends."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.bytes = 0
        self.data = bytearray()
        self.ended_at: float | None = None
        self.status = 0
        self._started = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TsPlayer:
        self._thread.start()
        assert self._started.wait(30), "the player did not start"
        assert self.status == 200, self.status
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # the player leaves (its next read closes the connection)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            with httpx.Client(timeout=30, follow_redirects=True) as c:
                with c.stream("GET", self.url) as r:
                    self.status = r.status_code
                    self._started.set()
                    for chunk in r.iter_bytes():
                        self.bytes += len(chunk)
                        self.data += chunk
                        if self._stop.is_set():
                            return
        except httpx.HTTPError:
            pass
        finally:
            if not self._stop.is_set():
                self.ended_at = time.monotonic()
            self._started.set()

    def playing(self, seconds: float = 1.0) -> bool:
        before = self.bytes
        time.sleep(seconds)
        return self.ended_at is None and self.bytes > before


def decoded_frames(url: str, frames: int = 25) -> int:
    """Frames ffmpeg decodes from ``url`` (following the panel's 302)."""
    result = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", url,
         "-map", "0:v:0", "-frames:v", str(frames), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert len(result.stdout) % (320 * 180) == 0
    return len(result.stdout) // (320 * 180)


def pictures_of(data: bytes, folder: Path) -> list[bytes]:
    """The stream's pictures, each scaled to 8x8 RGB."""
    path = folder / "captured.ts"
    path.write_bytes(data)
    out = subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", "0:v:0",
         "-vf", "scale=8:8,format=rgb24", "-fps_mode", "passthrough", "-f", "rawvideo", "-"],
        capture_output=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    return [out[i : i + 192] for i in range(0, len(out) - 191, 192)]


def green_share(frame: bytes) -> float:
    """The share of 8x8 pixels that are the "ended" slate's dark green (0x204020)."""
    pixels = [frame[i : i + 3] for i in range(0, len(frame), 3)]
    return sum(1 for r, g, b in pixels if 45 < g < 95 and r < g - 15 and b < g - 15) / 64


def audience(world: World, syndication: str) -> dict[str, Any]:
    r = world.alpha.get("/api/v1/syndication/audience")
    assert r.status_code == 200, r.text
    rows = {row["syndication_id"]: row for row in r.json()}
    return rows[world.syndications[syndication]]


# ---- the tests, in order ----


def test_a_partners_line_plays_the_owners_channel_on_the_owners_node(world: World) -> None:
    bravo_url = world.play_url(1, "bravo-viewer", world.entries["bravo"])
    location = admit_302(bravo_url)
    assert location.startswith(f"{world.node.base_url}/play/"), location
    assert decoded_frames(bravo_url) == 25
    hls_url = world.play_url(1, "bravo-viewer", world.entries["bravo"], "m3u8")
    assert admit_302(hls_url).startswith(f"{world.node.base_url}/play/")
    assert decoded_frames(hls_url) == 25
    # The owner's own viewer goes to the same node, the same running channel.
    alpha_url = world.play_url(0, "alpha-viewer", world.channel)
    assert admit_302(alpha_url).startswith(f"{world.node.base_url}/play/")
    with TsPlayer(bravo_url) as bravo, TsPlayer(alpha_url) as alpha:
        assert bravo.playing() and alpha.playing()
        pulls = [a for a in ffmpeg_children(world.node.proc.pid) if "testsrc" in a]
        print(f"\nffmpeg processes of the node for the channel: {len(pulls)}")
        assert len(pulls) == 1, pulls

        def one_channel() -> bool:
            status = world.alpha.get("/api/v1/nodes/status")
            assert status.status_code == 200, status.text
            (row,) = status.json()["items"]
            return bool(row["channels"] == 1 and row["viewers"] >= 2)

        wait_until(one_channel, 10, "one channel, both viewers, on the node")
    # The partner's sessions list names its own entry and line; the owner's does not
    # list the partner's viewers (no personal data crosses tenants).
    with TsPlayer(bravo_url) as bravo:
        assert bravo.playing()

        def listed() -> list[dict[str, Any]] | None:
            r = world.bravo.get("/api/v1/live/sessions")
            assert r.status_code == 200, r.text
            return [s for s in r.json() if s.get("username") == "bravo-viewer"] or None

        sessions = wait_until(listed, 10, "bravo's session in bravo's list")
        assert {s["channel_id"] for s in sessions} == {world.entries["bravo"]}, sessions
        owners = world.alpha.get("/api/v1/live/sessions").json()
        assert all(s.get("username") != "bravo-viewer" for s in owners), owners


def test_the_offers_cap_admits_exactly_that_many_across_replicas(world: World) -> None:
    url = [world.play_url(i, "charlie-viewer", world.entries["charlie"]) for i in (0, 1)]

    def attempt(n: int) -> httpx.Response:
        with httpx.Client(timeout=30) as c:
            return c.get(url[n % 2], headers={"user-agent": f"player-{n}"}, follow_redirects=False)

    admit_302(url[0])  # the node is up and the channel placed; this takes one place
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(attempt, range(24)))
    # Charlie has a node of its own: its viewers of alpha's channel go to alpha's node.
    for r in answers:
        assert r.status_code != 302 or r.headers["location"].startswith(world.node.base_url)
    statuses = Counter(r.status_code for r in answers)
    print(f"\n24 concurrent attempts over two replicas, cap {CAP} (one held): {dict(statuses)}")
    assert statuses == {302: CAP - 1, 429: 24 - CAP + 1}, statuses
    assert {r.text for r in answers if r.status_code == 429} == {"SYNDICATION_MAX_VIEWERS\n"}
    # The cap is charlie's, not the channel's: alpha's and bravo's viewers still play.
    assert admit(world.play_url(0, "alpha-viewer", world.channel)).status_code == 302
    assert admit(world.play_url(1, "bravo-viewer", world.entries["bravo"])).status_code == 302
    row = wait_until(lambda: (r := audience(world, "charlie"))["viewers_now"] == CAP and r,
                     10, "charlie's viewers counted")  # fmt: skip
    assert row["peak_viewers"] >= CAP


def test_an_offers_total_cap_admits_exactly_that_many_of_all_its_partners(world: World) -> None:
    """A public offer of alpha's Z capped at TOTAL viewers for all its partners together,
    carried by bravo and charlie: concurrent plays of both, over both replicas, get exactly
    TOTAL 302s; the rest are refused with the all-in-one's SYNDICATION_TOTAL_VIEWERS."""
    z = created(world.alpha.post("/api/v1/channels", json={"name": "Drums Total",
                                                           "sources": [PATTERN]}))  # fmt: skip
    terms = {"channel_id": z["id"], "auto_approve": True, "max_viewers_total": TOTAL}
    offer = created(world.alpha.post("/api/v1/syndication/offers", json=terms))
    urls: list[str] = []
    for name, client, panel in (("bravo", world.bravo, 1), ("charlie", world.charlie, 0)):
        row = created(client.post("/api/v1/syndication/requests", json={"offer_id": offer["id"]}))
        world.syndications[f"{name}-total"] = row["id"]
        _bundle(client, f"{name} total", row["entry_channel_id"], {f"{name}-total": 0})
        urls += [
            world.play_url(i, f"{name}-total", row["entry_channel_id"]) for i in (panel, 1 - panel)
        ]
    # The node is up (the owner's own viewer of X takes no place of Z's offer).
    admit_302(world.play_url(0, "alpha-viewer", world.channel))

    def attempt(n: int) -> httpx.Response:
        with httpx.Client(timeout=30) as c:
            return c.get(urls[n % 4], headers={"user-agent": f"total-{n}"}, follow_redirects=False)

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(attempt, range(24)))
    statuses = Counter(r.status_code for r in answers)
    print(f"\n24 concurrent attempts of two partners over two replicas, total cap {TOTAL}: "
          f"{dict(statuses)}")  # fmt: skip
    assert statuses == {302: TOTAL, 429: 24 - TOTAL}, statuses
    assert {r.text for r in answers if r.status_code == 429} == {"SYNDICATION_TOTAL_VIEWERS\n"}
    for r in answers:
        assert r.status_code != 302 or r.headers["location"].startswith(world.node.base_url)
    # Full for either partner, on either replica.
    for url in urls:
        refused = admit(url)
        assert (refused.status_code, refused.text) == (429, "SYNDICATION_TOTAL_VIEWERS\n")
    # Each partner's audience counts its own viewers only; together they are the offer's.
    now = wait_until(
        lambda: (n := [audience(world, f"{p}-total")["viewers_now"] for p in ("bravo", "charlie")])
        and sum(n) == TOTAL and n, 10, "the partners' viewers of the offer counted",
    )  # fmt: skip
    print(f"viewers now, bravo and charlie: {now}")


def test_the_offers_territories_gate_the_partners_viewers(world: World) -> None:
    url = world.play_url(1, "bravo-nordic", world.entries["nordic"])
    refused = admit(url, forwarded_for=GB)
    assert (refused.status_code, refused.text) == (451, "RIGHTS_TERRITORY\n")
    assert admit(url).status_code == 451  # an address of no known country
    assert admit(url, forwarded_for=SE).status_code == 302


def test_the_owner_sees_each_partners_audience(world: World) -> None:
    url = world.play_url(1, "bravo-viewer", world.entries["bravo"])
    with TsPlayer(url) as player:
        row = wait_until(
            lambda: (r := audience(world, "bravo"))["viewers_now"] >= 1 and r["watch_seconds"] >= 2
            and r, 30, "bravo's viewer and watch time in alpha's audience",
        )  # fmt: skip
        assert player.playing()
    assert row["partner_name"] == "Bravo" and row["peak_viewers"] >= 1
    assert not {"username", "ip", "line_id"} & set(row), row


def test_revocation_cuts_the_partners_running_player_within_seconds(world: World) -> None:
    bravo_url = world.play_url(1, "bravo-viewer", world.entries["bravo"])
    alpha_url = world.play_url(0, "alpha-viewer", world.channel)
    with TsPlayer(bravo_url) as bravo, TsPlayer(alpha_url) as alpha:
        assert bravo.playing() and alpha.playing()
        sid = world.syndications["bravo"]
        revoked_at = time.monotonic()
        r = world.alpha.post(f"/api/v1/syndication/partners/{sid}/revoke")
        assert r.status_code == 200, r.text
        wait_until(lambda: bravo.ended_at, CUT_WITHIN + 5, "bravo's stream to end")
        assert bravo.ended_at is not None
        cut = bravo.ended_at - revoked_at
        print(f"\nrevocation -> bravo's stream ended on the node: {cut:.2f} s")
        assert cut < CUT_WITHIN, cut
        assert alpha.playing(), "the owner's own viewer was cut too"
    # What bravo's player got: live pictures, then the node's "ended" slate (green).
    pictures = pictures_of(bytes(bravo.data), world.node_folder)
    assert len(pictures) >= 25 and green_share(pictures[0]) < 0.5
    assert green_share(pictures[-1]) >= 0.9, pictures[-1]
    # Gone from bravo's catalogue; a new play is refused.
    creds = {"username": "bravo-viewer", "password": LINE_PASSWORD}
    with httpx.Client(base_url=world.urls[1], timeout=30) as c:
        listed = c.get("/player_api.php", params={**creds, "action": "get_live_streams"})
    assert listed.status_code == 200 and listed.json() == [], listed.text
    # (Bravo has no nodes and a panel replica no engine: 503 STREAM_OFFLINE, as for any
    # channel bravo's lines cannot play; never a 302 to alpha's node.)
    refused = admit(bravo_url)
    assert refused.status_code != 302 and "location" not in refused.headers, refused.text


def test_the_term_ends_in_panel_mode_and_cuts_the_partners_viewers(world: World) -> None:
    """Charlie carries Y until a few seconds from now: the replicas' sweep ends it once
    (one audit entry per side), and charlie's running player is cut."""
    until = datetime.now(UTC) + timedelta(seconds=8)
    row = _carry(world.alpha, world.charlie, world.ranged, until=until.isoformat())
    _bundle(world.charlie, "Charlie Y", row["entry_channel_id"], {"charlie-term": 1})
    url = world.play_url(0, "charlie-term", row["entry_channel_id"])
    with TsPlayer(url) as player:
        assert player.playing()
        wait_until(lambda: player.ended_at, 30, "the player cut at the end of the term")
        assert player.ended_at is not None
        late = player.ended_at - time.monotonic() + (datetime.now(UTC) - until).total_seconds()
        print(f"\nend of term -> charlie's stream ended: {late:.2f} s")
        assert late < CUT_WITHIN, late
    for client in (world.alpha, world.charlie):

        def ended(client: httpx.Client = client) -> list[dict[str, Any]] | None:
            log = client.get("/api/v1/audit", params={"entity": "syndication", "action": "end"})
            assert log.status_code == 200, log.text
            return [e for e in log.json()["items"] if e["entity_id"] == str(row["id"])] or None

        wait_until(ended, 10, "the end of the term in the audit log")
        time.sleep(2 * HEARTBEAT_SECONDS)  # both replicas swept again meanwhile
        assert [e["actor"] for e in ended() or []] == ["system"]
    assert world.charlie.get("/api/v1/syndication/requests").json()[0]["status"] == "ended"


def test_the_owners_suspension_cuts_the_partners_viewers_on_its_nodes(world: World) -> None:
    """Alpha suspended: its channels play to no partner (the syndication stays). A partner's
    player already on alpha's node is cut within seconds, as the all-in-one's engine cuts
    it, and a new play is refused; resumed, the partner's line plays again."""
    row = _carry(world.alpha, world.bravo, world.channel)  # bravo's X was revoked above
    _bundle(world.bravo, "Bravo X again", row["entry_channel_id"], {"bravo-again": 1})
    world.entries["bravo-again"] = row["entry_channel_id"]  # the next test's too
    url = world.play_url(1, "bravo-again", row["entry_channel_id"])
    tenants = world.admin.get("/api/v1/tenants", params={"q": "alpha"})
    assert tenants.status_code == 200, tenants.text
    (alpha_id,) = [t["id"] for t in tenants.json()["items"] if t["slug"] == "alpha"]
    with TsPlayer(url) as player:
        assert player.playing()
        suspended_at = time.monotonic()
        r = world.admin.post(f"/api/v1/tenants/{alpha_id}/suspend")
        assert r.status_code == 200, r.text
        try:
            wait_until(lambda: player.ended_at, CUT_WITHIN + 5, "the partner's player cut")
            assert player.ended_at is not None
            cut = player.ended_at - suspended_at
            print(f"\nowner suspended -> the partner's stream ended on the node: {cut:.2f} s")
            assert cut < CUT_WITHIN, cut
            refused = admit(url)
            assert (refused.status_code, refused.text) == (503, "CHANNEL_UNAVAILABLE\n")
        finally:
            r = world.admin.post(f"/api/v1/tenants/{alpha_id}/resume")
            assert r.status_code == 200, r.text
    assert admit_302(url).startswith(f"{world.node.base_url}/play/")
    mine = world.bravo.get("/api/v1/syndication/requests").json()
    assert [s["status"] for s in mine if s["id"] == row["id"]] == ["active"], mine


def test_a_partners_disabled_line_is_cut_on_the_owners_node(world: World) -> None:
    """Bravo disables its line: its player on alpha's node is cut within seconds, as the
    all-in-one's engine cuts a disabled line's viewers (whichever replica hears it)."""
    url = world.play_url(0, "bravo-again", world.entries["bravo-again"])
    lines = world.bravo.get("/api/v1/lines", params={"q": "bravo-again"}).json()["items"]
    (line_id,) = [x["id"] for x in lines if x["username"] == "bravo-again"]
    with TsPlayer(url) as player:
        assert player.playing()
        disabled_at = time.monotonic()
        r = world.bravo.patch(f"/api/v1/lines/{line_id}", json={"enabled": False})
        assert r.status_code == 200, r.text
        wait_until(lambda: player.ended_at, CUT_WITHIN + 5, "the disabled line's player cut")
        assert player.ended_at is not None
        cut = player.ended_at - disabled_at
        print(f"\nline disabled -> its stream ended on the owner's node: {cut:.2f} s")
        assert cut < CUT_WITHIN, cut
    assert admit(url).status_code == 403
