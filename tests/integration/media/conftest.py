"""A running server with a seeded tenant, channels, bouquet and lines for live tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from palinsesto.accounts.bootstrap import ensure_tenant
from palinsesto.accounts.models import ConnectionPolicy, Line, LineBouquet, Tenant
from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ChannelMode, ItemType
from palinsesto.config import Settings
from support.server import RunningServer, make_settings, run_server


@dataclass
class LiveWorld:
    server: RunningServer
    tenant_id: int
    pattern_id: int  # test pattern, on demand, in the bouquet
    hidden_id: int  # exists but in no bouquet of the line
    push_id: int  # RTMP push with a slate fallback
    stream_key: str
    username: str = "viewer1"
    password: str = "pw-viewer-1"

    @property
    def engine(self):  # noqa: ANN201
        return self.server.ctx.services["live"]

    @property
    def live_base(self) -> str:
        return f"http://127.0.0.1:{self.engine.port}"

    def url(self, stream_id: int, ext: str = "ts", password: str | None = None) -> str:
        pw = self.password if password is None else password
        return f"{self.live_base}/live/{self.username}/{pw}/{stream_id}.{ext}"

    def set_line(self, **values: object) -> None:
        with self.server.ctx.db.transaction() as session:
            line = session.query(Line).filter_by(username=self.username).one()
            for key, value in values.items():
                setattr(line, key, value)
        self.server.ctx.events.publish(self.tenant_id, "lines")

    def add_channel(
        self,
        name: str,
        sources: list[dict[str, object]],
        *,
        stream_key: str | None = None,
        mode: ChannelMode = ChannelMode.on_demand,
    ) -> int:
        """A channel in the line's bouquet; the change event tells the engine about it."""
        with self.server.ctx.db.transaction() as session:
            channel = Channel(
                tenant_id=self.tenant_id,
                name=name,
                sources=sources,
                stream_key=stream_key,
                mode=mode,
            )
            session.add(channel)
            session.flush()
            bouquet = session.query(Bouquet).filter_by(tenant_id=self.tenant_id).first()
            session.add(
                BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=channel.id)
            )
            channel_id = channel.id
        self.server.ctx.events.publish(self.tenant_id, "catalog")
        self.server.ctx.events.publish(self.tenant_id, "channels")
        return channel_id

    def set_policy(self, policy: ConnectionPolicy) -> None:
        with self.server.ctx.db.transaction() as session:
            session.get(Tenant, self.tenant_id).connection_policy = policy
        self.server.ctx.events.publish(self.tenant_id, "lines")


@pytest.fixture
def live(sqlite_url: str, tmp_path: Path) -> Iterator[LiveWorld]:
    settings = make_settings(
        tmp_path,
        sqlite_url,
        outbound_allow_networks="127.0.0.1/32",  # local stand-ins for upstream servers
        live_idle_stop_seconds=2,
        hls_session_timeout_seconds=4,
    )
    with live_world(settings) as world:
        yield world


@contextmanager
def live_world(settings: Settings) -> Iterator[LiveWorld]:
    """A running server on ``settings`` with the seeded tenant, channels, bouquet and line."""
    with run_server(settings) as server:
        with server.ctx.db.transaction() as session:
            tenant = ensure_tenant(session, "livetest", "Live Test")
            session.flush()
            pattern = Channel(
                tenant_id=tenant.id,
                name="Pattern",
                sources=[{"kind": "test_pattern", "url": "testsrc://320x180@25"}],
                mode=ChannelMode.on_demand,
            )
            hidden = Channel(
                tenant_id=tenant.id,
                name="Hidden",
                sources=[{"kind": "test_pattern", "url": "testsrc://320x180@25"}],
            )
            push = Channel(
                tenant_id=tenant.id,
                name="Creator",
                sources=[{"kind": "push_rtmp", "url": ""}],
                stream_key="live_k3y_creator_0123456789",
                mode=ChannelMode.on_demand,
            )
            session.add_all([pattern, hidden, push])
            bouquet = Bouquet(tenant_id=tenant.id, name="Main")
            session.add(bouquet)
            session.flush()
            for channel in (pattern, push):
                session.add(
                    BouquetItem(
                        bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=channel.id
                    )
                )
            line = Line(
                tenant_id=tenant.id, username="viewer1", password="pw-viewer-1", max_connections=3
            )
            session.add(line)
            session.flush()
            session.add(LineBouquet(line_id=line.id, bouquet_id=bouquet.id))
            world = LiveWorld(server, tenant.id, pattern.id, hidden.id, push.id, push.stream_key)
        yield world


@pytest.fixture
def start_live(sqlite_url: str, tmp_path: Path) -> Callable[..., AbstractContextManager[LiveWorld]]:
    """``start_live(**settings)``: the seeded world on settings a test chooses (e.g. its own
    ``outbound_allow_networks``, once its stand-in servers have ports)."""

    def start(**overrides: object) -> AbstractContextManager[LiveWorld]:
        return live_world(make_settings(tmp_path, sqlite_url, **overrides))

    return start
