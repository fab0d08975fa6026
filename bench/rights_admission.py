"""Cost of the rights + territory check per admission (µs), with a baseline in the same run.

    /work/main/.venv/bin/python bench/rights_admission.py [--n 50000] [--geoip FILE.mmdb]

Builds one tenant on a scratch SQLite database (a line, a channel in its bouquet, a current
rights record, a territory rule allowing three countries) and times
``PlaybackAccess.authorize(..., cached_only=True)``, the admission every stream URL goes
through, from memory:

1. baseline: the same access object without the rights gate (what main does);
2. rights only: ``rights_required`` with a valid record, no territory rule (no GeoIP);
3. rights + GeoIP, memo hit: a territory rule, viewers from a few addresses;
4. rights + GeoIP, every lookup read from the database file (memo of size 1).

Also the GeoIP read alone. In-process, no network; a few seconds on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from palinsesto.accounts.models import Line, LineBouquet, Tenant
from palinsesto.accounts.throttle import LoginThrottle
from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ItemType
from palinsesto.cluster.events import ChangeEvents
from palinsesto.db import Database
from palinsesto.db.migrate import upgrade
from palinsesto.panel.playback.access import PlaybackAccess, PlaybackRequest
from palinsesto.panel.playback.lines import LineDirectory
from palinsesto.panel.playback.rights_gate import RightsGate
from palinsesto.trust.geo import CountryLookup
from palinsesto.trust.models import RightsRecord, TerritoryRule

DEFAULT_DB = "/work/shared/geoip-test-mmdb/GeoLite2-Country-Test.mmdb"
VIEWERS = ["81.2.69.160", "89.160.20.112", "216.160.83.56"]  # GB, SE, US in the test DB


def seed(db: Database, territory: bool) -> tuple[int, int]:
    with db.transaction() as s:
        tenant = Tenant(slug=f"bench-{territory}", name="Bench", rights_required=True)
        s.add(tenant)
        s.flush()
        channel = Channel(tenant_id=tenant.id, name="C", sources=[])
        bouquet = Bouquet(tenant_id=tenant.id, name="B")
        s.add_all([channel, bouquet])
        s.flush()
        s.add(BouquetItem(bouquet_id=bouquet.id, item_type=ItemType.channel, item_id=channel.id))
        line = Line(tenant_id=tenant.id, username=f"u{territory}", password="p")
        s.add(line)
        s.flush()
        s.add(LineBouquet(line_id=line.id, bouquet_id=bouquet.id))
        now = datetime.now(UTC)
        s.add(RightsRecord(tenant_id=tenant.id, item_type="channel", item_id=channel.id,
                           holder="H", starts_at=now - timedelta(days=1),
                           ends_at=now + timedelta(days=30)))  # fmt: skip
        if territory:
            s.add(TerritoryRule(tenant_id=tenant.id, item_type="channel", item_id=channel.id,
                                allowed=["GB", "SE", "US"]))  # fmt: skip
        return tenant.id, channel.id


def interleaved_us(cases: dict[str, Callable[[int], object]], n: int) -> dict[str, float]:
    """µs per call of each case: the median of 7 rounds, cases taking turns within each
    round so that load from other processes falls on all of them alike."""
    rounds: dict[str, list[float]] = {name: [] for name in cases}
    per_round = max(1, n // 7)
    for _ in range(7):
        for name, fn in cases.items():
            start = time.perf_counter()
            for i in range(per_round):
                fn(i)
            rounds[name].append((time.perf_counter() - start) / per_round * 1e6)
    return {name: statistics.median(values) for name, values in rounds.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--geoip", default=DEFAULT_DB)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-rights-")
    url = f"sqlite:///{Path(folder) / 'bench.db'}"
    upgrade(url)
    db, events = Database(url), ChangeEvents()
    lines = LineDirectory(db, events, LoginThrottle(10**9, 300))
    _, plain_channel = seed(db, territory=False)
    _, geo_channel = seed(db, territory=True)
    geo = CountryLookup(args.geoip)
    cold_geo = CountryLookup(args.geoip, memo_size=1)
    cases = {
        "baseline (no rights gate)": (PlaybackAccess(db, events, lines), "uFalse", plain_channel),
        "rights record, no territory": (
            PlaybackAccess(db, events, lines, rights=RightsGate(db, events, geo)),
            "uFalse", plain_channel,
        ),
        "rights + GeoIP (memo hit)": (
            PlaybackAccess(db, events, lines, rights=RightsGate(db, events, geo)),
            "uTrue", geo_channel,
        ),
        "rights + GeoIP (file read)": (
            PlaybackAccess(db, events, lines, rights=RightsGate(db, events, cold_geo)),
            "uTrue", geo_channel,
        ),
    }  # fmt: skip
    timed: dict[str, Callable[[int], object]] = {}
    for name, (access, user, channel) in cases.items():
        now = time.time()
        reqs = [PlaybackRequest(user, "p", channel, "ts", ip, "bench", now) for ip in VIEWERS]
        access.authorize(reqs[0])  # load line, channel, bouquet, tenant and rights caches
        for r in reqs:
            access.authorize(r, cached_only=True)
        timed[name] = partial(_admit, access, reqs)
    timed["GeoIP file read alone"] = lambda i: cold_geo.country(VIEWERS[i % 3])
    print(f"admission from memory, {args.n} calls per case, µs per call (median of 7 rounds)")
    for name, us in interleaved_us(timed, args.n).items():
        print(f"  {name:32s} {us:7.2f}")


def _admit(access: PlaybackAccess, reqs: list[PlaybackRequest], i: int) -> object:
    return access.authorize(reqs[i % len(reqs)], cached_only=True)


if __name__ == "__main__":
    sys.exit(main())
