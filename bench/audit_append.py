"""Audit log benchmark: appends per second with the hash chain, and the chain's check.

    .venv/bin/python bench/audit_append.py [--entries 5000] [--writers 1] [--backend both]

Each append is one write transaction holding one audit entry (what an admin API change
costs on top of its own row). Prints, measured in the same run on the same database:

* appends/s through ``palinsesto.trust.audit.record`` (head row locked, digest computed);
* baseline: the same entries inserted one per transaction with no chain (plain ORM insert);
* ``verify`` throughput (entries/s) over everything written.

``--writers N`` runs N threads at once (PostgreSQL shows the head row's lock there).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from palinsesto.db import Database  # noqa: E402
from palinsesto.db.base import utcnow  # noqa: E402
from palinsesto.trust import audit  # noqa: E402
from palinsesto.trust.models import AuditEntry  # noqa: E402
from support.databases import temporary_database  # noqa: E402

AFTER = {"name": "Channel 7", "number": 7, "sources": [{"url": "http://example.invalid/7.ts"}]}


def _timed(writers: int, per_writer: int, append: object) -> float:
    def work() -> None:
        for _ in range(per_writer):
            append()  # type: ignore[operator]

    threads = [threading.Thread(target=work) for _ in range(writers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def run(url: str, entries: int, writers: int) -> None:
    db = Database(url)
    per_writer = max(1, entries // writers)
    total = per_writer * writers
    seq = iter(range(10**9, 2 * 10**9))  # baseline rows need unique seq values too

    def chained() -> None:
        with db.transaction() as session:
            audit.record(
                session,
                actor_id=1,
                actor="bench",
                tenant_id=None,
                action="update",
                entity="channel",
                entity_id=7,
                after=AFTER,
                ip="127.0.0.1",
            )

    def plain() -> None:
        with db.transaction() as session:
            session.add(
                AuditEntry(
                    actor_id=1,
                    actor="bench",
                    action="update",
                    entity="channel",
                    entity_id="7",
                    after=AFTER,
                    ip="127.0.0.1",
                    created_at=utcnow(),
                    seq=next(seq),
                    prev_hash="",
                    row_hash="",
                )
            )

    base = _timed(writers, per_writer, plain)
    with db.transaction() as session:  # keep only the chain for verify
        session.query(AuditEntry).delete()
    took = _timed(writers, per_writer, chained)
    start = time.perf_counter()
    with db.session() as session:
        report = audit.verify(session)
    verify_s = time.perf_counter() - start
    assert report.intact and report.entries == total, report
    db.dispose()
    print(f"  appends, hash chain: {total / took:8.0f}/s  ({took:.2f} s for {total})")
    print(f"  baseline, no chain:  {total / base:8.0f}/s  ({base:.2f} s for {total})")
    print(f"  chain cost per append: {(took - base) / total * 1e6:+.0f} µs")
    print(f"  verify: {report.entries / verify_s:8.0f} entries/s ({verify_s:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--writers", type=int, default=1)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for backend in backends:
        print(f"{backend}, {args.writers} writer(s):")
        with temporary_database(backend, Path(tempfile.mkdtemp())) as url:
            run(url, args.entries, args.writers)


if __name__ == "__main__":
    main()
