"""Benchmark: `palinsesto demo-data` at full size against its 60 s budget on SQLite.

Run: .venv/bin/python bench/demo_data.py [--no-postgres] [--scale 1.0]

Full size is 20,000 channels, 100,000 movies, 2,000 series x 10 episodes and 100,000 lines,
on a fresh SQLite file (migrations included in the total). The baseline, measured in the
same run, inserts the very same rows (read back from the result) with plain sqlite3
``executemany`` into bare tables of the same width (no indexes, no foreign keys), in
transactions of the same size: what is left between the two is the cost of generating the
data, SQLAlchemy, type processing and indexes. With PostgreSQL reachable on 127.0.0.1:5432
the same run is repeated on a throwaway database there.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from palinsesto.catalog.demo_data import DEFAULT_CHUNK_ROWS, DemoSizes, generate_demo_data
from palinsesto.db import Database, upgrade
from scratch_db import postgres_available, scratch_postgres

BUDGET_SECONDS = 60.0
# Report steps -> the tables they fill.
STEP_TABLES = {
    "channels": ("channels", "channel_categories"),
    "movies": ("movies",),
    "series": ("series", "seasons", "episodes"),
    "bouquet_items": ("bouquet_items",),
    "lines": ("lines", "line_bouquets"),
}


def run_demo(url: str, sizes: DemoSizes) -> tuple[float, dict[str, float], dict[str, int]]:
    started = time.perf_counter()
    upgrade(url)
    migrated = time.perf_counter() - started
    db = Database(url)
    try:
        report = generate_demo_data(db, "bench", sizes, seed=7)
    finally:
        db.dispose()
    seconds = {"migrate": migrated, **report.seconds}
    return time.perf_counter() - started, seconds, report.rows


def baseline(source: Path, target: Path) -> dict[str, float]:
    """Plain sqlite3 executemany of the same rows into bare tables, per report step."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target, isolation_level=None)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("PRAGMA synchronous=NORMAL")
    seconds: dict[str, float] = {}
    for step, tables in STEP_TABLES.items():
        elapsed = 0.0
        for table in tables:
            rows = src.execute(f"SELECT * FROM {table}").fetchall()
            if not rows:
                continue
            width = len(rows[0])
            dst.execute(f"CREATE TABLE {table} ({', '.join(f'c{i}' for i in range(width))})")
            insert = f"INSERT INTO {table} VALUES ({', '.join('?' * width)})"
            started = time.perf_counter()
            for start in range(0, len(rows), DEFAULT_CHUNK_ROWS):
                dst.execute("BEGIN")
                dst.executemany(insert, rows[start : start + DEFAULT_CHUNK_ROWS])
                dst.execute("COMMIT")
            elapsed += time.perf_counter() - started
        seconds[step] = elapsed
    src.close()
    dst.close()
    return seconds


def run_postgres(sizes: DemoSizes) -> tuple[float, dict[str, float]]:
    with scratch_postgres() as url:
        total, seconds, _ = run_demo(url, sizes)
        return total, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL run")
    args = parser.parse_args()
    sizes = DemoSizes(
        channels=int(20_000 * args.scale),
        movies=int(100_000 * args.scale),
        series=int(2_000 * args.scale),
        episodes_per_series=10,
        lines=int(100_000 * args.scale),
    )
    print(
        f"demo-data: {sizes.channels:,} channels, {sizes.movies:,} movies, "
        f"{sizes.series:,} series x {sizes.episodes_per_series} episodes, {sizes.lines:,} lines"
    )
    with tempfile.TemporaryDirectory() as tmp:
        db_file = Path(tmp) / "bench.db"
        total, seconds, rows = run_demo(f"sqlite:///{db_file}", sizes)
        plain = baseline(db_file, Path(tmp) / "baseline.db")
    pg = run_postgres(sizes) if not args.no_postgres and postgres_available() else None

    header = f"{'step':<14}{'rows':>10}{'sqlite s':>10}{'baseline s':>12}{'overhead':>10}"
    print(header + (f"{'postgres s':>12}" if pg else ""))
    for step, secs in seconds.items():
        count = sum(rows.get(table, 0) for table in STEP_TABLES.get(step, ()))
        base = plain.get(step)
        line = f"{step:<14}{count:>10,}{secs:>10.2f}"
        line += f"{base:>12.2f}{secs / base:>9.1f}x" if base else f"{'':>12}{'':>10}"
        if pg:
            line += f"{pg[1].get(step, 0.0):>12.2f}"
        print(line)
    all_rows = sum(rows.values())
    base_total = sum(plain.values())
    print(
        f"{'total':<14}{all_rows:>10,}{total:>10.2f}{base_total:>12.2f}"
        f"{total / base_total:>9.1f}x" + (f"{pg[0]:>12.2f}" if pg else "")
    )
    verdict = "within" if total <= BUDGET_SECONDS else "OVER"
    print(f"SQLite total {total:.1f} s: {verdict} the {BUDGET_SECONDS:.0f} s budget")
    if pg is None and not args.no_postgres:
        print("(PostgreSQL on 127.0.0.1:5432 not reachable: skipped)")
    return 0 if total <= BUDGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
