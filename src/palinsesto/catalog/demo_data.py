"""A synthetic but realistic catalog for tests, demos and benchmarks.

``generate_demo_data`` fills one tenant with categories, channels, movies, series (seasons
and episodes), bouquets covering all of it, lines and two resellers. It is built for size:
rows go in through SQLAlchemy Core bulk inserts (executemany), ids are reserved in bulk
(so that dependent rows can be made in the same chunk), and each chunk of a table is its
own transaction. 20,000 channels, 100,000 movies, 2,000 series x 10 episodes and 100,000
lines take well under a minute on SQLite (see ``bench/demo_data.py``).

Running it again on the same tenant *adds* rows: categories, bouquets and resellers are
reused by name, new channel, movie and series names are made unique within the tenant (a
taken name gets a number, 'X 2'), line usernames are checked against every stored line,
new channel numbers follow the highest one, and bouquet items are appended after the
existing ones. With a given seed and the same database state the output is the same.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from palinsesto.accounts.bootstrap import ensure_tenant
from palinsesto.catalog.demo_bulk import (
    DEFAULT_CHUNK_ROWS,
    BulkWriter,
    ProgressCallback,
    analyze,
    reserve_ids,
)
from palinsesto.catalog.demo_setup import (
    DemoDataError,
    ResellerCredentials,
    check_limits,
    ensure_bouquets,
    ensure_categories,
    ensure_resellers,
)
from palinsesto.db import Database
from palinsesto.names import SLUG_PATTERN
from palinsesto.trust.audit import record

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "DemoDataError",
    "DemoReport",
    "DemoSizes",
    "ProgressCallback",
    "ResellerCredentials",
    "generate_demo_data",
    "reserve_ids",
]

SLUG = re.compile(SLUG_PATTERN)


@dataclass(frozen=True)
class DemoSizes:
    """How much to make. ``episodes_per_series`` is per series: the total is series x it."""

    channels: int = 100
    movies: int = 500
    series: int = 20
    episodes_per_series: int = 10
    lines: int = 100

    def __post_init__(self) -> None:
        for name in ("channels", "movies", "series", "episodes_per_series", "lines"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise DemoDataError(f"{name} must be a whole number >= 0, got {value!r}")


@dataclass
class DemoReport:
    tenant_id: int
    tenant_slug: str
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    new_resellers: list[ResellerCredentials] = field(default_factory=list)
    sample_line: tuple[str, str] | None = None

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def _no_progress(_table: str, _done: int, _total: int) -> None:
    return None


def generate_demo_data(
    db: Database,
    tenant_slug: str,
    sizes: DemoSizes,
    *,
    seed: int = 1,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    actor: str = "demo-data",
) -> DemoReport:
    """Add a synthetic catalog, lines and resellers to tenant ``tenant_slug`` (created if missing).

    Raises :class:`DemoDataError` before writing anything when the slug is malformed or the
    sizes would exceed the tenant's plan limits.
    """
    if not SLUG.match(tenant_slug):
        raise DemoDataError(
            f"tenant slug {tenant_slug!r}: use lower-case letters, digits and '-' "
            "(starting with a letter or digit, at most 63 characters)"
        )
    if chunk_rows <= 0:
        raise DemoDataError("chunk_rows must be positive")
    rng = random.Random(seed)
    started = time.perf_counter()
    with db.transaction() as session:
        tenant = ensure_tenant(session, tenant_slug)
        check_limits(session, tenant, sizes.channels, sizes.lines)
        tenant_id = tenant.id
        categories = ensure_categories(session, tenant_id)
        bouquets = ensure_bouquets(session, tenant_id)
        resellers, new_resellers = (
            ensure_resellers(session, tenant_id, tenant_slug, rng) if sizes.lines else ([], [])
        )
    report = DemoReport(tenant_id=tenant_id, tenant_slug=tenant_slug, new_resellers=new_resellers)
    report.seconds["setup"] = time.perf_counter() - started
    writer = BulkWriter(
        db, tenant_id, rng, now or datetime.now(UTC), progress or _no_progress, chunk_rows
    )

    def timed(step: str, work: Callable[[], None]) -> None:
        began = time.perf_counter()
        work()
        report.seconds[step] = time.perf_counter() - began

    timed("channels", lambda: writer.channels(categories.live, sizes.channels))
    timed("movies", lambda: writer.movies(categories.movie, sizes.movies))
    timed(
        "series",
        lambda: writer.series(categories.series, sizes.series, sizes.episodes_per_series),
    )
    timed("bouquet_items", lambda: writer.bouquet_items(bouquets))
    timed("lines", lambda: writer.lines(sizes.lines, bouquets, resellers))
    report.rows = writer.rows
    report.sample_line = writer.sample_line
    with db.transaction() as session:
        record(
            session,
            actor_id=None,
            actor=actor,
            tenant_id=tenant_id,
            action="demo_data",
            entity="tenant",
            entity_id=tenant_id,
            after={"rows": dict(report.rows)},
        )
    timed("analyze", lambda: analyze(db, [t for t, n in report.rows.items() if n]))
    return report
