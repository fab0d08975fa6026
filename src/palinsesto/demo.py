"""The demo tenant the all-in-one server starts with: one live test-pattern channel."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.accounts.bootstrap import ensure_tenant
from palinsesto.accounts.models import Line, LineBouquet
from palinsesto.accounts.security import generate_password
from palinsesto.catalog.models import (
    Bouquet,
    BouquetItem,
    Category,
    CategoryKind,
    Channel,
    ChannelCategory,
    ChannelMode,
    ItemType,
)
from palinsesto.protocol.sources import SourceKind

DEMO_LINE = "demo"


@dataclass(frozen=True)
class DemoResult:
    tenant_slug: str
    channel_id: int
    line_username: str
    line_password: str
    created: bool


def ensure_demo(session: Session, slug: str) -> DemoResult:
    """Create (once) the demo tenant with a test-pattern channel, a bouquet and a line."""
    tenant = ensure_tenant(session, slug, "Demo")
    line = session.scalar(select(Line).where(Line.username == f"{DEMO_LINE}-{slug}"))
    if line is not None:
        channel_id = session.scalar(
            select(Channel.id).where(Channel.tenant_id == tenant.id).order_by(Channel.id)
        )
        return DemoResult(slug, channel_id or 0, line.username, line.password, created=False)
    category = Category(tenant_id=tenant.id, kind=CategoryKind.live, name="Demo", sort_order=1)
    session.add(category)
    session.flush()
    channel = Channel(
        tenant_id=tenant.id,
        name="Demo Test Pattern",
        number=1,
        epg_channel_id="demo.palinsesto",
        sources=[{"kind": SourceKind.test_pattern.value, "url": "testsrc://1280x720@25"}],
        mode=ChannelMode.on_demand,
    )
    session.add(channel)
    session.flush()
    session.add(ChannelCategory(channel_id=channel.id, category_id=category.id, position=0))
    bouquet = Bouquet(tenant_id=tenant.id, name="Demo", sort_order=1)
    session.add(bouquet)
    session.flush()
    session.add(BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=channel.id))
    line = Line(
        tenant_id=tenant.id,
        username=f"{DEMO_LINE}-{slug}",
        password=generate_password(12).replace("-", "x").replace("_", "y"),
        max_connections=2,
    )
    session.add(line)
    session.flush()
    session.add(LineBouquet(line_id=line.id, bouquet_id=bouquet.id, position=0))
    return DemoResult(slug, channel.id, line.username, line.password, created=True)
