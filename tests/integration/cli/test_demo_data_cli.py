"""`palinsesto demo-data` run as a real command, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from palinsesto.catalog.demo_data import DemoSizes, generate_demo_data
from palinsesto.catalog.demo_words import LIVE_CATEGORIES, MOVIE_CATEGORIES, SERIES_CATEGORIES
from palinsesto.db import Database, upgrade
from support.cli_runner import Cli

SMALL = ["--channels", "60", "--movies", "80", "--series", "6", "--episodes", "4"]
SMALL += ["--lines", "50", "--chunk", "25"]  # several chunks per table
CATEGORY_COUNT = len(LIVE_CATEGORIES) + len(MOVIE_CATEGORIES) + len(SERIES_CATEGORIES)


def _tenant_id(cli: Cli, slug: str) -> int:
    return cli.rows("SELECT id FROM tenants WHERE slug = :slug", slug=slug)[0][0]


def _bouquet_items(cli: Cli, tenant_id: int) -> dict[tuple[str, str], list[int]]:
    rows = cli.rows(
        "SELECT b.name, i.item_type, i.position FROM bouquet_items i "
        "JOIN bouquets b ON b.id = i.bouquet_id WHERE b.tenant_id = :t "
        "ORDER BY b.name, i.item_type, i.position",
        t=tenant_id,
    )
    items: dict[tuple[str, str], list[int]] = {}
    for name, item_type, position in rows:
        items.setdefault((name, item_type), []).append(position)
    return items


def test_demo_data_builds_a_catalog_and_a_second_run_adds_to_it(
    database_url: str, tmp_path: Path
) -> None:
    cli = Cli(tmp_path / "data", database_url)
    first = cli.run("demo-data", "--tenant", "acme", *SMALL)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "reseller acme-reseller1 password (shown once):" in first.stdout
    tenant = _tenant_id(cli, "acme")
    scoped = "tenant_id = :t"
    assert cli.count("channels", scoped, t=tenant) == 60
    assert cli.count("movies", scoped, t=tenant) == 80
    assert cli.count("series", scoped, t=tenant) == 6
    assert cli.count("episodes", scoped, t=tenant) == 24  # --episodes is per series
    assert cli.count("lines", scoped, t=tenant) == 50
    assert cli.count("categories", scoped, t=tenant) == CATEGORY_COUNT
    # Every series has seasons, and its episodes are numbered within them.
    assert cli.count("seasons", scoped, t=tenant) >= 6
    assert cli.rows(
        "SELECT count(*) FROM series s WHERE s.tenant_id = :t AND NOT EXISTS "
        "(SELECT 1 FROM seasons x WHERE x.series_id = s.id)",
        t=tenant,
    ) == [(0,)]
    # Every channel has a category and a source.
    assert (
        cli.count(
            "channels",
            scoped + " AND id NOT IN (SELECT channel_id FROM channel_categories)",
            t=tenant,
        )
        == 0
    )
    assert cli.count("channels", scoped + " AND CAST(sources AS TEXT) = '[]'", t=tenant) == 0

    items = _bouquet_items(cli, tenant)
    assert {name for name, _ in items} == {"Full", "Sports", "Kids", "Movies", "Series"}
    assert len(items[("Full", "channel")]) == 60
    assert len(items[("Full", "movie")]) == 80
    assert len(items[("Full", "series")]) == 6
    assert len(items[("Movies", "movie")]) == 80
    for positions in items.values():
        assert positions == list(range(len(positions)))  # ordered, no gaps
    sports_channels = cli.rows(
        "SELECT count(DISTINCT cc.channel_id) FROM channel_categories cc "
        "JOIN categories c ON c.id = cc.category_id WHERE c.tenant_id = :t AND c.name IN "
        "('Sports', 'Football', 'Motorsport', 'Events PPV') AND cc.position = 0",
        t=tenant,
    )[0][0]
    assert len(items.get(("Sports", "channel"), [])) == sports_channels

    lines = cli.rows(
        "SELECT username, password, exp_date, is_trial, reseller_id FROM lines "
        "WHERE tenant_id = :t",
        t=tenant,
    )
    assert all(re.fullmatch(r"[a-z0-9]+", username) for username, *_ in lines)
    assert all(re.fullmatch(r"[A-Za-z0-9]+", password) for _, password, *_ in lines)
    now = datetime.now(UTC)

    def expiry(value: object) -> datetime | None:
        if value is None:
            return None
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    expiries = [expiry(exp) for _, _, exp, _, _ in lines]
    assert any(exp is None for exp in expiries)  # unlimited
    assert any(exp is not None and exp < now for exp in expiries)  # expired
    assert any(exp is not None and exp > now for exp in expiries)  # active
    assert any(trial for *_, trial, _ in lines)
    assert (
        cli.count("lines", scoped + " AND id NOT IN (SELECT line_id FROM line_bouquets)", t=tenant)
        == 0
    )
    resellers = cli.rows(
        "SELECT id, username, parent_id, credits FROM admin_users "
        "WHERE tenant_id = :t AND role = 'reseller' ORDER BY id",
        t=tenant,
    )
    assert [(name, credits) for _, name, _, credits in resellers] == [
        ("acme-reseller1", 1000),
        ("acme-reseller2", 250),
    ]
    assert resellers[1][2] == resellers[0][0]  # the second is a sub-reseller of the first
    assert {owner for *_, owner in lines} >= {resellers[0][0], resellers[1][0], None}
    assert cli.count("credit_ledger", scoped, t=tenant) == 2
    assert cli.count("audit_log", scoped + " AND action = 'demo_data'", t=tenant) == 1

    second = cli.run("demo-data", "--tenant", "acme", *SMALL, "--seed", "1")
    assert second.returncode == 0, second.stderr + second.stdout
    assert "password (shown once)" not in second.stdout  # resellers are reused
    assert cli.count("channels", scoped, t=tenant) == 120
    assert cli.count("lines", scoped, t=tenant) == 100
    assert cli.count("categories", scoped, t=tenant) == CATEGORY_COUNT
    assert cli.count("bouquets", scoped, t=tenant) == 5
    assert cli.count("admin_users", scoped + " AND role = 'reseller'", t=tenant) == 2
    # Same seed, yet every name and username is new.
    assert cli.rows("SELECT count(DISTINCT name) FROM channels WHERE tenant_id = :t", t=tenant) == [
        (120,)
    ]
    assert cli.rows("SELECT count(DISTINCT name) FROM movies WHERE tenant_id = :t", t=tenant) == [
        (160,)
    ]
    assert cli.rows(
        "SELECT count(DISTINCT number) FROM channels WHERE tenant_id = :t", t=tenant
    ) == [(120,)]
    items = _bouquet_items(cli, tenant)
    assert items[("Full", "channel")] == list(range(120))
    assert items[("Full", "movie")] == list(range(160))


def test_demo_data_rejects_bad_input_and_changes_nothing(sqlite_url: str, tmp_path: Path) -> None:
    cli = Cli(tmp_path / "data", sqlite_url)
    negative = cli.run("demo-data", "--tenant", "acme", "--channels", "-1")
    assert negative.returncode == 2
    assert "Invalid value for '--channels'" in negative.stderr
    assert "greater than or equal to 0" in negative.stderr
    unknown = cli.run("demo-data", "--tenant", "acme", "--chanels", "3")
    assert unknown.returncode == 2
    assert "No such option" in unknown.stderr
    bad_slug = cli.run("demo-data", "--tenant", "Not A Slug", "--channels", "1")
    assert bad_slug.returncode == 1
    assert "tenant slug 'Not A Slug'" in bad_slug.stderr
    assert cli.count("tenants") == 0

    made = cli.run("demo-data", "--tenant", "acme", "--channels", "5", "--movies", "0")
    assert made.returncode == 0, made.stderr
    tenant = _tenant_id(cli, "acme")
    before = cli.count("channels", "tenant_id = :t", t=tenant)
    cli.execute("UPDATE tenants SET max_channels = 8 WHERE id = :t", t=tenant)
    over = cli.run("demo-data", "--tenant", "acme", "--channels", "4", "--lines", "0")
    assert over.returncode == 1
    assert "allows 8 channels" in over.stderr
    assert cli.count("channels", "tenant_id = :t", t=tenant) == before


def test_generator_is_deterministic_and_reports_progress(tmp_path: Path) -> None:
    sizes = DemoSizes(channels=30, movies=20, series=3, episodes_per_series=5, lines=25)
    now = datetime(2025, 6, 1, tzinfo=UTC)
    snapshots = []
    for run in ("a", "b"):
        url = f"sqlite:///{tmp_path / run}.db"
        upgrade(url)
        db = Database(url)
        seen: dict[str, tuple[int, int]] = {}
        report = generate_demo_data(
            db,
            "det",
            sizes,
            seed=42,
            now=now,
            chunk_rows=7,
            progress=lambda table, done, total, seen=seen: seen.__setitem__(table, (done, total)),
        )
        with db.session() as session:
            from sqlalchemy import text

            snapshots.append(
                [
                    list(session.execute(text(f"SELECT * FROM {table} ORDER BY id")))
                    for table in ("channels", "movies", "episodes")
                ]
                + [list(session.execute(text("SELECT username, password, exp_date FROM lines")))]
            )
        db.dispose()
        assert seen == {
            "channels": (30, 30),
            "movies": (20, 20),
            "series": (3, 3),
            "seasons": (report.rows["seasons"], report.rows["seasons"]),
            "episodes": (15, 15),
            "bouquet_items": (report.rows["bouquet_items"], report.rows["bouquet_items"]),
            "lines": (25, 25),
        }
    assert snapshots[0] == snapshots[1]
