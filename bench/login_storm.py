"""Writes' latency during a storm of failed admin sign-ins, with a no-storm baseline.

    /work/main/.venv/bin/python bench/login_storm.py [--postgres] [--logins 100 --concurrency 12]

Starts ``palinsesto serve`` (SQLite, or a scratch PostgreSQL database with ``--postgres``)
with the sign-in throttle raised out of the way, so every guess is hashed (argon2id).
Then, against one channel, an admin PATCHes its name every 0.1 s:

1. baseline: 30 PATCHes with nothing else going on;
2. storm: the same PATCHes while ``--logins`` wrong-password sign-ins run
   ``--concurrency`` at a time (and 12 user creations, which hash a password too).

Prints each phase's write latency (median, p95, max), the writes and sign-ins that did
not get their expected status (500 "database is locked" before the fix), and how long
the storm took. Loopback only; bounded by the storm's size (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch_db import postgres_available, scratch_postgres  # noqa: E402

ADMIN, ADMIN_PASSWORD = "bench-admin", "bench-admin-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(data_dir: Path, database_url: str) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PALINSESTO_")}
    env.update(
        PALINSESTO_DATA_DIR=str(data_dir),
        PALINSESTO_LISTEN=f"127.0.0.1:{port}",
        PALINSESTO_LIVE_LISTEN="127.0.0.1:0",
        PALINSESTO_RTMP_LISTEN="127.0.0.1:0",
        PALINSESTO_ADMIN_USERNAME=ADMIN,
        PALINSESTO_ADMIN_PASSWORD=ADMIN_PASSWORD,
        PALINSESTO_LOG_LEVEL="warning",
        # Every guess must reach argon2: the storm is what is being measured.
        PALINSESTO_LOGIN_MAX_FAILURES="1000000",
        PALINSESTO_LOGIN_ACCOUNT_MAX_FAILURES="1000000",
    )
    if database_url:
        env["PALINSESTO_DATABASE_URL"] = database_url
    proc = subprocess.Popen(
        [sys.executable, "-m", "palinsesto", "serve", "--no-demo"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # imports alone take 20 s on a loaded machine
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("palinsesto serve did not start")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def token(base: str) -> str:
    r = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": ADMIN, "password": ADMIN_PASSWORD}
    )
    r.raise_for_status()
    return r.json()["access_token"]


def patches(client: httpx.Client, channel_id: int, until: threading.Event | None, count: int):
    """PATCH every 0.1 s: ``count`` times, or (with ``until``) until it is set."""
    timings: list[float] = []
    bad: list[int] = []
    i = 0
    while (until is not None and not until.is_set()) or i < count:
        i += 1
        start = time.perf_counter()
        r = client.patch(f"/api/v1/channels/{channel_id}", json={"name": f"Bench {i}"})
        timings.append(time.perf_counter() - start)
        if r.status_code != 200:
            bad.append(r.status_code)
        time.sleep(0.1)
    return timings, bad


def figures(timings: list[float]) -> str:
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{statistics.median(ordered) * 1000:8.1f} {p95 * 1000:8.1f} {ordered[-1] * 1000:9.1f}"


def run(backend: str, database_url: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp), database_url) as base:
        client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token(base)}"}, timeout=120
        )
        r = client.post("/api/v1/tenants", json={"name": "Bench", "slug": "bench"})
        r.raise_for_status()
        tenant_id = r.json()["id"]
        r = client.post("/api/v1/channels", json={"name": "Bench", "tenant_id": tenant_id})
        r.raise_for_status()
        channel_id = r.json()["id"]

        baseline, baseline_bad = patches(client, channel_id, None, 30)

        done = threading.Event()
        sign_ins: list[int] = []
        creations: list[int] = []

        def guess(i: int) -> None:
            with httpx.Client(base_url=base, timeout=120) as c:
                try:
                    r = c.post(
                        "/api/v1/auth/token", data={"username": ADMIN, "password": f"wrong{i}"}
                    )
                    sign_ins.append(r.status_code)
                except httpx.HTTPError:
                    sign_ins.append(-1)

        def create(i: int) -> None:
            body = {
                "username": f"bench-user-{i}",
                "password": "bench-user-password",
                "role": "support",
                "tenant_id": tenant_id,
            }
            creations.append(client.post("/api/v1/users", json=body).status_code)

        storm_seconds: list[float] = []

        def storm() -> None:
            start = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(guess, range(args.logins)))
                list(pool.map(create, range(12)))
            storm_seconds.append(time.perf_counter() - start)
            done.set()

        thread = threading.Thread(target=storm)
        thread.start()
        during, during_bad = patches(client, channel_id, done, 6)
        thread.join()
        client.close()

    wrong_sign_ins = Counter(s for s in sign_ins if s != 401)
    wrong_creations = Counter(s for s in creations if s != 201)
    print(f"\n{backend}: {args.logins} failed sign-ins, {args.concurrency} at a time, "
          f"+ 12 user creations; storm took {storm_seconds[0]:.1f} s")  # fmt: skip
    print(f"{'channel PATCH latency':32} {'writes':>6} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'max ms':>9}  not 200")  # fmt: skip
    print(f"{'baseline (no storm)':32} {len(baseline):6} {figures(baseline)}  {len(baseline_bad)}")
    print(f"{'during the storm':32} {len(during):6} {figures(during)}  {len(during_bad)}")
    print(
        f"sign-ins not 401: {dict(wrong_sign_ins) or 'none'}; "
        f"user creations not 201: {dict(wrong_creations) or 'none'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    parser.add_argument("--logins", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=12)
    args = parser.parse_args()
    run("SQLite", "", args)
    if args.postgres:
        if not postgres_available():
            raise SystemExit("PostgreSQL is not reachable on 127.0.0.1:5432")
        with scratch_postgres() as url:
            run("PostgreSQL", url, args)


if __name__ == "__main__":
    main()
