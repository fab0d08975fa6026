"""Benchmark: the first page of every list the web panel shows, on the demo-data catalog.

    .venv/bin/python bench/panel_pages.py [--no-postgres] [--samples 30] [--scale 1.0]

Acceptance (issue 6): each first page in at most 300 ms of server time, on the catalog of
``palinsesto demo-data --tenant demo --channels 20000 --movies 100000 --series 2000
--episodes 10 --lines 100000``.

For each database (SQLite, then PostgreSQL on 127.0.0.1:5432 when reachable):

1. a fresh database is filled by the real CLI (``palinsesto demo-data``) and a tenant owner
   is made with ``palinsesto admin create-user``;
2. ``palinsesto serve --no-demo`` starts (demo-data channels are all on-demand, so the
   live engine starts no ffmpeg);
3. signed in as the owner (the platform admin for ``/tenants``), each list is fetched once
   to warm up, then ``--samples`` times over one keep-alive connection: the panel's own
   request, ``?page=1&per_page=50`` with the default sort, plus each filter of the lines
   page. Times are end-to-end on loopback (request sent -> last byte read): an upper bound
   of the server time;
4. the baseline, measured in the same run against the same server, is ``/healthz``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from scratch_db import postgres_available, scratch_postgres

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
BUDGET_MS = 300.0
OWNER, OWNER_PASSWORD = "bench-owner", "bench-owner-password"
ROOT_USER, ROOT_PASSWORD = "bench-root", "bench-root-password"
FIRST_PAGE = {"page": 1, "per_page": 50}


@dataclass(frozen=True)
class Target:
    label: str
    path: str
    params: dict[str, str | int]
    as_root: bool = False
    informative: bool = False  # not a first page: shown for comparison, not judged


@dataclass
class Result:
    target: Target
    samples: list[float]
    nbytes: int
    total: int | None

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.samples, n=20)[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [PYTHON, "-m", "palinsesto", *args], env=env, check=True, stdout=subprocess.DEVNULL
    )


def build_catalog(env: dict[str, str], scale: float) -> float:
    """Fill the database with the real CLI; returns the seconds it took."""
    started = time.perf_counter()
    sizes = {"channels": 20_000, "movies": 100_000, "series": 2_000, "lines": 100_000}
    args = [f"--{name}={max(1, int(count * scale))}" for name, count in sizes.items()]
    cli(env, "demo-data", "--tenant", "demo", *args, "--episodes", "10")
    cli(env, "admin", "create-user", OWNER, "--role", "owner", "--tenant", "demo",
        "--password", OWNER_PASSWORD)  # fmt: skip
    print(f"  catalog built in {time.perf_counter() - started:.0f} s", flush=True)
    return time.perf_counter() - started


@contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    server_env = dict(env, PALINSESTO_LISTEN=f"127.0.0.1:{port}", PALINSESTO_LOG_LEVEL="warning")
    proc = subprocess.Popen(
        [PYTHON, "-m", "palinsesto", "serve", "--no-demo"],
        env=server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("palinsesto serve did not start")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def sign_in(base: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    reply = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    reply.raise_for_status()
    client.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"
    return client


def targets(owner: httpx.Client) -> list[Target]:
    """Every list the panel shows, with the ids some of them need, found through the API."""
    bouquets = owner.get("/api/v1/bouquets", params={"q": "Full"}).json()["items"]
    full = bouquets[0]["id"]
    series = owner.get("/api/v1/series", params=FIRST_PAGE).json()["items"][0]["id"]
    resellers = owner.get("/api/v1/users", params={"role": "reseller"}).json()["items"]
    reseller = resellers[0]["id"]
    soon = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    page = dict(FIRST_PAGE)
    return [
        Target("panel index.html", "/panel/", {}),
        Target("panel js/app.js", "/panel/js/app.js", {}),
        Target("panel js/table.js", "/panel/js/table.js", {}),
        Target("openapi.json (panel)", "/api/v1/openapi.json", {}),
        Target("auth/me", "/api/v1/auth/me", {}),
        Target("channels", "/api/v1/channels", page),
        Target("channels sort=name", "/api/v1/channels", {**page, "sort": "name"}),
        Target("categories", "/api/v1/categories", page),
        Target("bouquets", "/api/v1/bouquets", page),
        Target("bouquet items (Full)", f"/api/v1/bouquets/{full}/items", {"per_page": 500}),
        Target("bouquet items, all", f"/api/v1/bouquets/{full}/items", {}, informative=True),
        Target("lines", "/api/v1/lines", page),
        Target("lines q=", "/api/v1/lines", {**page, "q": "berg"}),
        Target("lines status=active", "/api/v1/lines", {**page, "status": "active"}),
        Target("lines status=expired", "/api/v1/lines", {**page, "status": "expired"}),
        Target("lines expiring_before", "/api/v1/lines", {**page, "expiring_before": soon}),
        Target("lines reseller_id=", "/api/v1/lines", {**page, "reseller_id": reseller}),
        Target("lines bouquet_id=", "/api/v1/lines", {**page, "bouquet_id": full}),
        Target("lines sort=username", "/api/v1/lines", {**page, "sort": "username"}),
        Target("lines sort=-exp_date", "/api/v1/lines", {**page, "sort": "-exp_date"}),
        Target("users", "/api/v1/users", page),
        Target("packages", "/api/v1/packages", page),
        Target("credits ledger", "/api/v1/credits/ledger", page),
        Target("movies", "/api/v1/movies", page),
        Target("movies sort=name", "/api/v1/movies", {**page, "sort": "name"}),
        Target("series", "/api/v1/series", page),
        Target("episodes of a series", f"/api/v1/series/{series}/episodes", {}),
        Target("servers", "/api/v1/servers", page),
        Target("live sessions", "/api/v1/live/sessions", {}),
        Target("audit", "/api/v1/audit", page),
        Target("epg sources", "/api/v1/epg/sources", page),
        Target("epg review list", "/api/v1/epg/mappings", {**page, "state": "review"}),
        Target("tenants", "/api/v1/tenants", page, as_root=True),
    ]


def measure(client: httpx.Client, target: Target, samples: int) -> Result:
    reply = client.get(target.path, params=target.params)  # warm-up
    if reply.status_code != 200:
        raise RuntimeError(f"{target.label}: {reply.status_code} {reply.text[:200]}")
    times: list[float] = []
    for _ in range(min(samples, 5) if target.informative else samples):
        started = time.perf_counter()
        reply = client.get(target.path, params=target.params)
        reply.read()
        times.append((time.perf_counter() - started) * 1000)
        assert reply.status_code == 200
    body = reply.json() if "json" in reply.headers.get("content-type", "") else None
    total = body.get("total") if isinstance(body, dict) else None
    return Result(target, times, len(reply.content), total)


def run(env: dict[str, str], scale: float, samples: int) -> list[Result]:
    build_catalog(env, scale)
    with serving(env) as base:
        owner = sign_in(base, OWNER, OWNER_PASSWORD)
        root = sign_in(base, ROOT_USER, ROOT_PASSWORD)
        try:
            results = [measure(owner, Target("baseline /healthz", "/healthz", {}), samples)]
            for target in targets(owner):
                results.append(measure(root if target.as_root else owner, target, samples))
        finally:
            owner.close()
            root.close()
    return results


def base_env(data_dir: Path, database_url: str) -> dict[str, str]:
    return dict(
        os.environ,
        PALINSESTO_DATA_DIR=str(data_dir),
        PALINSESTO_DATABASE_URL=database_url,
        PALINSESTO_SECRET_KEY="bench-secret-" + "x" * 32,
        PALINSESTO_ADMIN_USERNAME=ROOT_USER,
        PALINSESTO_ADMIN_PASSWORD=ROOT_PASSWORD,
        PALINSESTO_LIVE_LISTEN="127.0.0.1:0",
        PALINSESTO_RTMP_LISTEN="127.0.0.1:0",
    )


def report(name: str, results: list[Result]) -> bool:
    print(f"\n{name}")
    print(f"{'first page of':<26}{'total':>9}{'bytes':>10}{'p50 ms':>9}{'p95 ms':>9}  verdict")
    ok = True
    for r in results:
        total = f"{r.total:,}" if r.total is not None else "-"
        within = r.p95 <= BUDGET_MS
        ok = ok and (within or r.target.informative)
        verdict = "ok" if within else f"OVER {BUDGET_MS:.0f} ms"
        if r.target.informative:
            verdict = "(not a first page)"
        print(f"{r.target.label:<26}{total:>9}{r.nbytes:>10,}{r.p50:>9.1f}{r.p95:>9.1f}  {verdict}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30, help="timed requests per page")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL run")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite run")
    args = parser.parse_args()
    outcome: list[bool] = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "sqlite"
            url = f"sqlite:///{data_dir / 'palinsesto.db'}"
            data_dir.mkdir()
            print("SQLite: building the demo-data catalog ...", flush=True)
            results = run(base_env(data_dir, url), args.scale, args.samples)
            outcome.append(report("SQLite", results))
    if not args.no_postgres and postgres_available():
        with scratch_postgres() as url, tempfile.TemporaryDirectory() as tmp:
            print("\nPostgreSQL: building the demo-data catalog ...", flush=True)
            results = run(base_env(Path(tmp), url), args.scale, args.samples)
            outcome.append(report("PostgreSQL", results))
    elif not args.no_postgres:
        print("(PostgreSQL on 127.0.0.1:5432 not reachable: skipped)")
    print(f"\nbudget: p95 <= {BUDGET_MS:.0f} ms for every first page: "
          f"{'met' if all(outcome) else 'NOT met'}")  # fmt: skip
    return 0 if all(outcome) else 1


if __name__ == "__main__":
    sys.exit(main())
