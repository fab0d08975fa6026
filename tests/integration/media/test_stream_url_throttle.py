"""Password guessing on stream URLs (``/live/U/P/ID.ts``, the short form, via the panel
port's redirect) meets the same sign-in throttle as the player API (README "Sign-in
throttling"), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from palinsesto.accounts.bootstrap import ensure_tenant
from palinsesto.accounts.models import Line, LineBouquet
from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ChannelMode, ItemType
from support.server import RunningServer, make_settings, run_server

LIMIT = 5
USER, PASSWORD = "streamer", "right-pw-1"


@dataclass
class World:
    server: RunningServer
    channel_id: int  # in the line's bouquet
    hidden_id: int  # in no bouquet of the line: a right password gets 406, no ffmpeg needed

    @property
    def live_base(self) -> str:
        return f"http://127.0.0.1:{self.server.ctx.services['live'].port}"


def _world(server: RunningServer) -> World:
    with server.ctx.db.transaction() as session:
        tenant = ensure_tenant(session, "guessing", "Guessing")
        session.flush()
        source = [{"kind": "test_pattern", "url": "testsrc://320x180@25"}]
        channel = Channel(
            tenant_id=tenant.id, name="Shown", sources=source, mode=ChannelMode.on_demand
        )
        hidden = Channel(tenant_id=tenant.id, name="Hidden", sources=source)
        bouquet = Bouquet(tenant_id=tenant.id, name="Main")
        session.add_all([channel, hidden, bouquet])
        session.flush()
        session.add(
            BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=channel.id)
        )
        line = Line(tenant_id=tenant.id, username=USER, password=PASSWORD, max_connections=2)
        session.add(line)
        session.flush()
        session.add(LineBouquet(line_id=line.id, bouquet_id=bouquet.id))
        return World(server, channel.id, hidden.id)


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    settings = make_settings(tmp_path, database_url, login_max_failures=LIMIT)
    with run_server(settings) as server:
        yield _world(server)


@pytest.fixture
def world_behind_proxy(database_url: str, tmp_path: Path) -> Iterator[World]:
    settings = make_settings(
        tmp_path, database_url, login_max_failures=LIMIT, trusted_proxies="127.0.0.1"
    )
    with run_server(settings) as server:
        yield _world(server)


def test_guess_storm_on_one_connection_is_locked_out(world: World) -> None:
    with httpx.Client(base_url=world.live_base, timeout=30) as c:
        statuses = []
        for i in range(40):
            # A forged X-Forwarded-For from an untrusted peer changes nothing.
            r = c.get(f"/live/{USER}/guess{i}/{world.channel_id}.ts",
                      headers={"X-Forwarded-For": f"198.51.100.{i}"})  # fmt: skip
            statuses.append(r.status_code)
        assert statuses == [401] * LIMIT + [429] * (40 - LIMIT)
        assert int(r.headers["Retry-After"]) > 0
        # Locked out: the right password is refused too, in every form and output.
        for path in (
            f"/live/{USER}/{PASSWORD}/{world.channel_id}.ts",
            f"/live/{USER}/{PASSWORD}/{world.channel_id}.m3u8",
            f"/{USER}/{PASSWORD}/{world.channel_id}.ts",
            f"/{USER}/{PASSWORD}/{world.channel_id}",
        ):
            assert c.get(path).status_code == 429, path
    # One throttle for every viewer surface: the player API refuses this address as well.
    api = httpx.get(
        f"{world.server.base_url}/player_api.php",
        params={"username": USER, "password": PASSWORD},
        timeout=30,
    )
    assert api.status_code == 429


def test_guesses_through_the_panel_port_redirect_are_counted(world: World) -> None:
    with httpx.Client(base_url=world.server.base_url, timeout=30, follow_redirects=True) as c:
        statuses = [
            c.get(f"/{USER}/guess{i}/{world.channel_id}.ts").status_code for i in range(LIMIT + 3)
        ]
        assert statuses == [401] * LIMIT + [429] * 3
        right = c.get(f"/live/{USER}/{PASSWORD}/{world.hidden_id}.ts")
        assert right.status_code == 429


def test_forwarded_for_from_a_trusted_proxy_names_the_client(world_behind_proxy: World) -> None:
    world = world_behind_proxy
    attacker = {"X-Forwarded-For": "198.51.100.66"}
    with httpx.Client(base_url=world.live_base, timeout=30) as c:
        for i in range(LIMIT):
            r = c.get(f"/live/{USER}/guess{i}/{world.channel_id}.ts", headers=attacker)
            assert r.status_code == 401
        hidden = f"/live/{USER}/{PASSWORD}/{world.hidden_id}.ts"
        assert c.get(hidden, headers=attacker).status_code == 429
        # The line's owner, at another address, gets past sign-in (406: not in bouquet).
        owner = c.get(hidden, headers={"X-Forwarded-For": "192.0.2.10"})
        assert owner.status_code == 406 and owner.text == "NOT_IN_BOUQUET\n"
        # Other accounts guessed from the owner's address do not lift the attacker's lock,
        # and the owner's sign-in there keeps its own pair open: known pairs stay usable.
        for i in range(LIMIT):
            c.get(
                f"/live/nobody{i}/x/{world.channel_id}.ts",
                headers={"X-Forwarded-For": "192.0.2.10"},
            )
        assert c.get(hidden, headers={"X-Forwarded-For": "192.0.2.10"}).status_code == 406
        assert c.get(hidden, headers=attacker).status_code == 429
