"""EPG benchmark: a 2,500-channel × 14-day guide (about 500,000 programmes).

    .venv/bin/python bench/epg_import.py [--channels 2500] [--days 14] [--database-url URL]

Prints, for Palinsesto and a baseline measured in the same run:

* import time and peak RSS of a fresh process importing the gzip document (target ≤ 60 s,
  ≤ 300 MB), and of a re-import that swaps the guide (carry-over of the past included);
  baselines: the same document parsed by ElementTree's iterparse alone, and the same rows
  inserted with one sqlite3 ``executemany`` into a table with the same indexes;
* ``get_short_epg`` latency over HTTP for random channels (target p95 ≤ 10 ms); baseline:
  ``/healthz`` on the same server;
* ``xmltv.php`` time to first byte and total time for a line with every channel (target
  TTFB ≤ 200 ms).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.xmltv_docs import GuideSpec, programme_count, xmltv_chunks  # noqa: E402

MINUTES = 100  # 2,500 channels × 14 days of 100-minute programmes = 504,000 programmes


def child_import(database_url: str, document: str) -> None:
    """Runs in a fresh process: migrate, import twice, print timings and peak RSS."""
    from palinsesto.accounts.models import Tenant
    from palinsesto.db import Database, upgrade
    from palinsesto.epg.importer import run_import
    from palinsesto.epg.models import EpgSource

    upgrade(database_url)
    db = Database(database_url)
    with db.transaction() as session:
        tenant = Tenant(name="Bench", slug="bench")
        session.add(tenant)
        session.flush()
        source = EpgSource(tenant_id=tenant.id, name="Provider", upload_path=document)
        session.add(source)
        session.flush()
        source_id = source.id
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures = {"rss_before_mb": rss_before / 1024}
    for label in ("import", "reimport"):
        started = time.perf_counter()
        result = run_import(db, source_id, data_dir=Path("/"))
        figures[f"{label}_s"] = time.perf_counter() - started
        figures[f"{label}_programmes"] = result.programmes
        if result.error:
            figures[f"{label}_error"] = result.error  # type: ignore[assignment]
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    db.dispose()
    print(json.dumps(figures))


def baseline_parse(document: Path) -> tuple[float, int]:
    started = time.perf_counter()
    count = 0
    with gzip.open(document) as fh:
        for _event, element in ET.iterparse(fh):
            if element.tag == "programme":
                count += 1
                element.clear()
    return time.perf_counter() - started, count


def baseline_sqlite(spec: GuideSpec, path: Path) -> float:
    rows = []
    per_channel = spec.days * 24 * 60 // spec.minutes
    for c in range(spec.channels):
        for i in range(per_channel):
            start = spec.start + i * spec.minutes * 60
            rows.append(
                (
                    1,
                    1,
                    1,
                    f"b{c}.example",
                    start,
                    start + spec.minutes * 60,
                    f"Show {i}",
                    "d" * 60,
                    "it",
                )
            )
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE p (id INTEGER PRIMARY KEY, tenant_id INT, source_id INT, run_id INT, "
        "xmltv_id TEXT, start INT, stop INT, title TEXT, description TEXT, lang TEXT)"
    )
    conn.execute("CREATE INDEX p_tcs ON p (tenant_id, xmltv_id, start)")
    conn.execute("CREATE INDEX p_run ON p (run_id)")
    started = time.perf_counter()
    for i in range(0, len(rows), 5000):
        conn.executemany(
            "INSERT INTO p (tenant_id, source_id, run_id, xmltv_id, start, stop, title, "
            "description, lang) VALUES (?,?,?,?,?,?,?,?,?)",
            rows[i : i + 5000],
        )
        conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct))]


def serve_and_measure(database_url: str, tmp: Path, channels: int) -> dict[str, float]:
    import httpx

    from palinsesto.accounts.models import Line, LineBouquet
    from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ItemType
    from palinsesto.db import Database
    from palinsesto.epg.matching import match_channels
    from support.server import make_settings, run_server

    db = Database(database_url)
    with db.transaction() as s:
        bouquet = Bouquet(tenant_id=1, name="All")
        s.add(bouquet)
        made = [
            Channel(tenant_id=1, name=f"Canale B {c}", epg_channel_id=f"b{c}.example")
            for c in range(channels)
        ]
        s.add_all(made)
        s.flush()
        s.add_all(
            BouquetItem(
                bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=ch.id, position=i
            )
            for i, ch in enumerate(made)
        )
        line = Line(tenant_id=1, username="bench", password="bench-pw")
        s.add(line)
        s.flush()
        s.add(LineBouquet(line_id=line.id, bouquet_id=bouquet.id))
        ids = [ch.id for ch in made]
    with db.transaction() as s:
        match_channels(s, 1)
    db.dispose()
    figures: dict[str, float] = {}
    with run_server(make_settings(tmp, database_url)) as server, server.client() as client:
        auth = {"username": "bench", "password": "bench-pw"}
        client.get(
            "/player_api.php", params={**auth, "action": "get_short_epg", "stream_id": ids[0]}
        )
        latencies = []
        rng = random.Random(7)
        for _ in range(1000):
            stream_id = rng.choice(ids)
            started = time.perf_counter()
            r = client.get(
                "/player_api.php",
                params={**auth, "action": "get_short_epg", "stream_id": stream_id},
            )
            latencies.append((time.perf_counter() - started) * 1000)
            assert r.status_code == 200 and len(r.json()["epg_listings"]) == 4, r.text
        figures["short_epg_p50_ms"] = statistics.median(latencies)
        figures["short_epg_p95_ms"] = percentile(latencies, 0.95)
        health = []
        for _ in range(1000):
            started = time.perf_counter()
            client.get("/healthz")
            health.append((time.perf_counter() - started) * 1000)
        figures["healthz_p95_ms"] = percentile(health, 0.95)
        for label in ("xmltv_cold", "xmltv_warm"):
            started = time.perf_counter()
            with httpx.stream(
                "GET", f"{server.base_url}/xmltv.php", params=auth, timeout=120
            ) as response:
                first = None
                size = 0
                for chunk in response.iter_raw():
                    if first is None:
                        first = time.perf_counter() - started
                    size += len(chunk)
            figures[f"{label}_ttfb_ms"] = (first or 0) * 1000
            figures[f"{label}_total_s"] = time.perf_counter() - started
            figures[f"{label}_mb"] = size / 1e6
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=2500)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--child", nargs=2, metavar=("URL", "DOCUMENT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_import(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        now = int(time.time()) // 3600 * 3600
        spec = GuideSpec(args.channels, args.days, now - 86400, prefix="b", minutes=MINUTES)
        document = tmp / "guide.xml.gz"
        with gzip.open(document, "wb", compresslevel=6) as fh:
            for chunk in xmltv_chunks(spec):
                fh.write(chunk)
        url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
        print(
            f"guide: {args.channels} channels × {args.days} days = {programme_count(spec):,} "
            f"programmes, {document.stat().st_size / 1e6:.1f} MB gzip; database {url.split(':')[0]}"
        )
        out = subprocess.run(
            [sys.executable, __file__, "--child", url, str(document)],
            check=True,
            capture_output=True,
            text=True,
        )
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        parse_s, parsed = baseline_parse(document)
        sqlite_s = baseline_sqlite(spec, tmp / "baseline.db")
        print(
            f"import            {figures['import_s']:7.1f} s  "
            f"({figures['import_programmes']:,} programmes)  target ≤ 60 s"
        )
        print(f"re-import (swap)  {figures['reimport_s']:7.1f} s")
        print(
            f"peak RSS          {figures['peak_rss_mb']:7.0f} MB (interpreter + modules "
            f"{figures['rss_before_mb']:.0f} MB)  target ≤ 300 MB"
        )
        print(
            f"baseline: ElementTree iterparse alone {parse_s:.1f} s ({parsed:,} programmes); "
            f"sqlite3 executemany alone {sqlite_s:.1f} s"
        )
        for key in ("import_error", "reimport_error"):
            if key in figures:
                print(f"ERROR {key}: {figures[key]}")
        served = serve_and_measure(url, tmp, args.channels)
        print(
            f"get_short_epg     p50 {served['short_epg_p50_ms']:.2f} ms, "
            f"p95 {served['short_epg_p95_ms']:.2f} ms  target p95 ≤ 10 ms "
            f"(baseline /healthz p95 {served['healthz_p95_ms']:.2f} ms)"
        )
        for label in ("xmltv_cold", "xmltv_warm"):
            print(
                f"xmltv.php {label[6:]:<5}   TTFB {served[f'{label}_ttfb_ms']:.0f} ms, "
                f"total {served[f'{label}_total_s']:.1f} s, {served[f'{label}_mb']:.1f} MB"
                "  target TTFB ≤ 200 ms"
            )


if __name__ == "__main__":
    main()
