"""A small, fully known catalogue and set of lines for the viewer-surface tests.

Inserted directly through the models (the admin API for channels and bouquets is another
area's work); tests that edit through the admin API use its categories resource.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from palinsesto.accounts.bootstrap import ensure_tenant
from palinsesto.accounts.models import Line, LineBouquet
from palinsesto.catalog.models import (
    Bouquet,
    BouquetItem,
    Category,
    CategoryKind,
    Channel,
    ChannelCategory,
    Episode,
    ItemType,
    Movie,
    Season,
    Series,
)
from palinsesto.db import Database

PASSWORD = "pw123"


@dataclass
class Catalog:
    tenant_id: int = 0
    cats: dict[str, int] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)
    movies: dict[str, int] = field(default_factory=dict)
    series: dict[str, int] = field(default_factory=dict)
    episodes: dict[str, int] = field(default_factory=dict)
    bouquets: dict[str, int] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    other_tenant_channel: int = 0


def populate(db: Database) -> Catalog:
    """Tenant "acme": two bouquets given to lines in the order (Basic, Extra).

    Expected live order for alice: Sports One, News 24 (Basic), then Radio Loop (Extra;
    News 24 again in Extra is dropped as a duplicate). A disabled channel never shows.
    """
    out = Catalog()
    now = datetime.now(UTC)
    with db.transaction() as s:
        tenant = ensure_tenant(s, "acme", "Acme TV")
        tenant.message = "Welcome to Acme"
        out.tenant_id = t = tenant.id
        for key, kind, name, order in [
            ("empty", CategoryKind.live, "Empty", 0),
            ("sports", CategoryKind.live, "Sports", 1),
            ("news", CategoryKind.live, "News", 2),
            ("action", CategoryKind.movie, "Action", 1),
            ("drama", CategoryKind.series, "Drama", 1),
            ("unused_movies", CategoryKind.movie, "Unused", 0),
        ]:
            c = Category(tenant_id=t, kind=kind, name=name, sort_order=order)
            s.add(c)
            s.flush()
            out.cats[key] = c.id
        specs = [
            ("news", "News 24", "news24.example", 3, ["news"], True),
            ("sports", 'Sports "One"', "sports1.example", 0, ["sports", "news"], True),
            ("radio", "Radio Loop", None, 0, [], True),
            ("off", "Disabled Channel", "off.example", 0, ["news"], False),
        ]
        for key, name, epg, archive, cats, enabled in specs:
            ch = Channel(
                tenant_id=t,
                name=name,
                logo=f"http://img.example/{key}.png",
                epg_channel_id=epg,
                archive_days=archive,
                enabled=enabled,
                custom_sid=":0:1:ABC:1:1:0:0:0:0:" if key == "news" else "",
            )
            s.add(ch)
            s.flush()
            for pos, cat in enumerate(cats):
                s.add(ChannelCategory(channel_id=ch.id, category_id=out.cats[cat], position=pos))
            out.channels[key] = ch.id
        m1 = Movie(
            tenant_id=t,
            name="Some Movie",
            year=2019,
            category_id=out.cats["action"],
            stream_icon="http://img.example/m1.jpg",
            rating=6.3,
            plot="A plot",
            duration_secs=5400,
            backdrop_path=["http://img.example/b1.jpg"],
            tmdb_id=42,
            container_extension="mkv",
        )
        m2 = Movie(tenant_id=t, name="Other Movie", container_extension="mp4")
        s.add_all([m1, m2])
        s.flush()
        out.movies = {"m1": m1.id, "m2": m2.id}
        show = Series(
            tenant_id=t,
            name="Some Show",
            year=2020,
            category_id=out.cats["drama"],
            cover="http://img.example/show.jpg",
            rating=7.4,
            episode_run_time=45,
        )
        empty_show = Series(tenant_id=t, name="Empty Show", category_id=out.cats["drama"])
        s.add_all([show, empty_show])
        s.flush()
        out.series = {"show": show.id, "empty": empty_show.id}
        s.add(
            Season(
                tenant_id=t,
                series_id=show.id,
                season_number=1,
                name="Season 1",
                air_date="2020-01-01",
            )
        )
        s.add(Season(tenant_id=t, series_id=show.id, season_number=2, name="", air_date=""))
        for key, season, num in [("s1e2", 1, 2), ("s1e1", 1, 1), ("s2e1", 2, 1), ("s0e1", 0, 1)]:
            ep = Episode(
                tenant_id=t,
                series_id=show.id,
                season_number=season,
                episode_num=num,
                title=f"Episode {key}",
                container_extension="mp4",
            )
            s.add(ep)
            s.flush()
            out.episodes[key] = ep.id
        basic = Bouquet(tenant_id=t, name="Basic", sort_order=2)
        extra = Bouquet(tenant_id=t, name="Extra", sort_order=1)
        s.add_all([basic, extra])
        s.flush()
        out.bouquets = {"basic": basic.id, "extra": extra.id}
        items = [
            (basic, ItemType.channel, out.channels["sports"], 0),
            (basic, ItemType.channel, out.channels["news"], 1),
            (basic, ItemType.channel, out.channels["off"], 2),
            (basic, ItemType.movie, m1.id, 0),
            (basic, ItemType.series, show.id, 0),
            (basic, ItemType.series, empty_show.id, 1),
            (extra, ItemType.channel, out.channels["news"], 0),
            (extra, ItemType.channel, out.channels["radio"], 1),
            (extra, ItemType.movie, m2.id, 0),
        ]
        for b, item_type, item_id, pos in items:
            s.add(BouquetItem(bouquet_id=b.id, item_type=item_type, item_id=item_id, position=pos))

        def line(username: str, bouquets: list[Bouquet], **kw: object) -> None:
            kw.setdefault("exp_date", now + timedelta(days=30))
            ln = Line(tenant_id=t, username=username, password=PASSWORD, **kw)
            s.add(ln)
            s.flush()
            for pos, b in enumerate(bouquets):
                s.add(LineBouquet(line_id=ln.id, bouquet_id=b.id, position=pos))
            out.lines[username] = ln.id

        both = [basic, extra]
        line("alice", both, max_connections=2)
        line("carol", both)
        line("forever", both, exp_date=None)
        line("basiconly", [basic])
        line("expired", both, exp_date=now - timedelta(days=1))
        line("banned", both, banned=True)
        line("disabled", both, enabled=False)
        line("iplocked", both, allowed_ips=["10.9.9.9", "192.0.2.0/24"])
        line("ualocked", both, allowed_user_agents=["GoodApp/1.0"])
        line("hlsonly", both, allowed_outputs=["m3u8"])

        other = ensure_tenant(s, "other", "Other TV")
        foreign = Channel(tenant_id=other.id, name="Foreign", epg_channel_id="foreign.example")
        s.add(foreign)
        s.flush()
        out.other_tenant_channel = foreign.id
    return out
