"""Cluster control plane on one Redis: session slots (Lua) and node heartbeats.

    .venv/bin/python bench/cluster_control_plane.py [--nodes 1000] [--sessions 100000]
        [--seconds 8] [--redis redis://…]

Starts its own redis-server on a free port (no persistence) unless ``--redis`` is given, so
Redis's CPU (``INFO cpu``) is this run's alone. Two parts:

1. Round trips through one client (``RedisSessionSlots``, 64 calls in flight): ``reserve``,
   ``renew`` of 1 and of 100 sessions, against the baseline in the same run: plain ``PING``
   through the same client. Per call: throughput, and Redis CPU per call.
2. The control plane of ``--nodes`` nodes holding ``--sessions`` sessions: each node, every
   2 s, sends a heartbeat = ``NodeLeases.beat`` + ``SessionSlots.renew`` of its sessions.
   Phase A runs the beats alone, phase B beats and renews, ``--seconds`` each. CPU seconds of
   this process (``resource.getrusage``: the panel's side, redis-py and the scripts'
   arguments) and of redis-server (``INFO cpu``) per phase; the renew cost is B minus A.
   The extrapolation to 5,500 nodes and 700,000 viewers is linear: beats scale with nodes,
   renews with sessions (per renewed id, from phase B).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import redis

from palinsesto.accounts.models import ConnectionPolicy
from palinsesto.cluster.node_leases import NodeLease
from palinsesto.cluster.node_leases_redis import RedisNodeLeases
from palinsesto.cluster.session_slots import SlotRefused, SlotRequest
from palinsesto.cluster.session_slots_redis import RedisSessionSlots
from palinsesto.protocol.messages import NodeState

HEARTBEAT = 2.0
IN_FLIGHT = 64
TARGET_NODES, TARGET_VIEWERS = 5_500, 700_000


@contextmanager
def private_redis() -> Iterator[str]:
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server not found: install it or pass --redis")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                folder,
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=port)
        try:
            for _ in range(500):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            client.close()
            process.kill()
            process.wait()


class RedisCpu:
    """redis-server's CPU seconds (user + sys) and memory, from INFO."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)

    def seconds(self) -> float:
        info = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def memory(self) -> int:
        return int(self.client.info("memory")["used_memory"])


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def in_flight(
    calls: list[Callable[[], Awaitable[object]]], at_once: int = IN_FLIGHT
) -> float:
    """Run ``calls``, ``at_once`` at a time; the wall seconds it took."""
    queue = iter(calls)

    async def worker() -> None:
        for call in queue:
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(at_once)))
    return time.perf_counter() - start


def request(session_id: int, line: int, node: int, limit: int = 2) -> SlotRequest:
    return SlotRequest(
        tenant_id=1 + line % 10,
        line_id=line,
        session_id=session_id,
        max_connections=limit,
        policy=ConnectionPolicy.refuse,
        node_id=node,
        ip=f"10.{line % 250}.{node % 250}.1",
        user_agent="VLC/3.0.20 LibVLC/3.0.20",
        tenant_max_viewers=1_000_000,
        ttl_seconds=30.0,
    )


async def reserve_or_refused(slots: RedisSessionSlots, req: SlotRequest) -> None:
    try:
        await slots.reserve(req, time.time())
    except SlotRefused:
        pass


def node_lease(node: int, viewers: int) -> NodeLease:
    return NodeLease(
        node_id=node,
        tenant_id=1 + node % 10,
        state=NodeState.online,
        public_url=f"http://10.0.{node // 250}.{node % 250}:8001",
        viewers=viewers,
        egress_mbps=viewers * 4.0,
        cpu_percent=random.uniform(10, 60),
        capacity_viewers=2_000,
        max_channels=100,
        channels={c: 5 for c in range(node % 7, 200, 7)},  # 29 channels
    )


async def round_trips(url: str, prefix: str, cpu: RedisCpu, n: int) -> None:
    print(f"1. round trips through one client, {IN_FLIGHT} in flight, {n:,} calls each")
    print(f"   {'call':<40} {'calls/s':>8} {'CPU µs/call: redis-server':>26} {'this process':>12}")
    slots = RedisSessionSlots(url, prefix, timeout=5.0)
    leases = RedisNodeLeases(url, prefix, timeout=5.0)
    nodes = max(1, n // 100)  # 100 sessions per node
    ids = [await slots.next_session_id() for _ in range(n)]
    by_node = [ids[k::nodes] for k in range(nodes)]
    now = time.time()
    cases: list[tuple[str, list[Callable[[], Awaitable[object]]]]] = [
        ("PING (baseline)", [slots.ping for _ in range(n)]),
        (
            "reserve (line of 2, refuse)",
            [
                lambda i=i, k=k: reserve_or_refused(slots, request(i, 10_000_000 + k, k % nodes))
                for k, i in enumerate(ids)
            ],
        ),
        (
            "beat (a node's lease, 29 channels)",
            [lambda k=k: leases.beat(node_lease(k % nodes, 100), 10.0, now) for k in range(n)],
        ),
        (
            "renew 100 sessions (a node's heartbeat)",
            [lambda k=k: slots.renew(k % nodes, by_node[k % nodes], 30, now) for k in range(n)],
        ),
    ]
    try:
        for name, calls in cases:
            before, own = cpu.seconds(), own_cpu()
            wall = await in_flight(calls)
            used, own = cpu.seconds() - before, own_cpu() - own
            print(
                f"   {name:<40} {len(calls) / wall:>8,.0f} {used / len(calls) * 1e6:>26.1f} "
                f"{own / len(calls) * 1e6:>12.1f}"
            )
        await slots.release(ids)
    finally:
        await slots.close()
        await leases.close()


async def fill(slots: RedisSessionSlots, sessions: int, nodes: int) -> dict[int, list[int]]:
    """``sessions`` slots spread over ``nodes`` nodes, confirmed by a first renew of each
    node (as when the players arrive); node -> its session ids. Loaded with
    ``reserve_many`` (batches of 1,000 plays, one script run each)."""
    of_node: dict[int, list[int]] = {node: [] for node in range(nodes)}
    requests = []
    # The prefix is this run's own, so nobody else draws ids from its counter: the ids
    # following the first one handed out are free.
    first = await slots.next_session_id()
    for k in range(sessions):
        node = k % nodes
        of_node[node].append(first + k)
        requests.append(request(first + k, k // 2, node))
    batches = [requests[i : i + 1_000] for i in range(0, sessions, 1_000)]

    async def load(batch: list[SlotRequest]) -> None:
        results = await slots.reserve_many(batch, time.time())
        if any(isinstance(r, SlotRefused) for r in results):
            raise RuntimeError("a bulk-loaded play was refused")

    start = time.perf_counter()
    await in_flight([lambda b=b: load(b) for b in batches], 4)
    wall = time.perf_counter() - start
    print(
        f"   setup: {sessions:,} slots reserved on {sessions // 2:,} lines in {wall:.1f} s "
        f"({sessions / wall:,.0f} reserves/s, batches of 1,000)",
        end="",
    )
    start = time.perf_counter()
    await in_flight(
        [lambda n=n: slots.renew(n, of_node[n], 30.0, time.time()) for n in range(nodes)]
    )
    print(f", confirmed by each node in {time.perf_counter() - start:.1f} s")
    return of_node


async def heartbeats(
    leases: RedisNodeLeases,
    slots: RedisSessionSlots | None,
    of_node: dict[int, list[int]],
    seconds: float,
) -> tuple[int, int, float]:
    """Each node beats (and renews its sessions, if ``slots``) every HEARTBEAT seconds, the
    nodes spread evenly over the interval. Returns beats sent, ids renewed, worst lag."""
    nodes = len(of_node)
    step = HEARTBEAT / nodes
    start = time.perf_counter()
    beats = renewed = 0
    worst_lag = 0.0
    pending: set[asyncio.Task[None]] = set()

    async def beat(node: int) -> None:
        nonlocal renewed
        now = time.time()
        sessions = of_node[node]
        await leases.beat(node_lease(node, len(sessions)), 10.0, now)
        if slots is not None and sessions:
            gone = await slots.renew(node, sessions, 30.0, now)
            if gone:
                raise RuntimeError(f"node {node}: {len(gone)} sessions not held")
            renewed += len(sessions)

    k = 0
    while True:
        due = start + k * step
        if due - start >= seconds or time.perf_counter() - start >= seconds:
            break  # a phase lasts ``seconds`` even when it falls behind (reported)
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        worst_lag = max(worst_lag, -delay)
        if len(pending) >= IN_FLIGHT:  # falling behind: lag (reported) rather than pile up
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.create_task(beat(k % nodes))
        pending.add(task)
        task.add_done_callback(pending.discard)
        beats += 1
        k += 1
    if pending:
        await asyncio.gather(*pending)
    return beats, renewed, worst_lag


async def control_plane(url: str, prefix: str, cpu: RedisCpu, args: argparse.Namespace) -> None:
    print(
        f"2. control plane: {args.nodes:,} nodes, {args.sessions:,} sessions, "
        f"a heartbeat per node every {HEARTBEAT:.0f} s, {args.seconds:.0f} s per phase"
    )
    slots = RedisSessionSlots(url, prefix, timeout=5.0)
    leases = RedisNodeLeases(url, prefix, timeout=5.0)
    try:
        memory_before = cpu.memory()
        of_node = await fill(slots, args.sessions, args.nodes)
        memory = cpu.memory() - memory_before
        print(f"   Redis memory for the slots: {memory / args.sessions:,.0f} bytes/session")
        results = {}
        for phase, with_renew in (("A beats alone", False), ("B beats + renews", True)):
            own, red = own_cpu(), cpu.seconds()
            wall = time.perf_counter()
            beats, renewed, lag = await heartbeats(
                leases, slots if with_renew else None, of_node, args.seconds
            )
            wall = time.perf_counter() - wall
            own, red = own_cpu() - own, cpu.seconds() - red
            results[phase] = (beats, renewed, own, red, wall)
            print(
                f"   phase {phase:<17}: {beats / wall:6,.0f} beats/s (of "
                f"{args.nodes / HEARTBEAT:,.0f}), {renewed / wall:8,.0f} "
                f"renewed ids/s, worst lag {lag * 1e3:5.0f} ms | CPU s per s: this process "
                f"{own / wall:.3f}, redis-server {red / wall:.3f}"
            )
        own = own_cpu()
        start = time.perf_counter()
        for _ in range(5):
            seen = await leases.nodes(None, time.time())
        print(
            f"   nodes() reading all {len(seen):,} leases: "
            f"{(time.perf_counter() - start) / 5 * 1e3:.1f} ms per call, this process "
            f"{(own_cpu() - own) / 5 * 1e3:.1f} ms CPU (placement should cache it ~1 s)"
        )
        beats_a, _, own_a, red_a, wall_a = results["A beats alone"]
        beats_b, renewed_b, own_b, red_b, wall_b = results["B beats + renews"]
        per_beat_own, per_beat_red = own_a / beats_a, red_a / beats_a
        per_id_own = max(0.0, own_b - per_beat_own * beats_b) / renewed_b
        per_id_red = max(0.0, red_b - per_beat_red * beats_b) / renewed_b
        print(
            f"   per beat: this process {per_beat_own * 1e6:.0f} µs, redis-server "
            f"{per_beat_red * 1e6:.0f} µs; per renewed session (in calls of "
            f"{args.sessions // args.nodes}): this process {per_id_own * 1e6:.2f} µs, "
            f"redis-server {per_id_red * 1e6:.2f} µs"
        )
        beats_s, ids_s = TARGET_NODES / HEARTBEAT, TARGET_VIEWERS / HEARTBEAT
        panel = per_beat_own * beats_s + per_id_own * ids_s
        server = per_beat_red * beats_s + per_id_red * ids_s
        print(
            f"   linear extrapolation to {TARGET_NODES:,} nodes and {TARGET_VIEWERS:,} "
            f"viewers ({beats_s:,.0f} beats/s, {ids_s:,.0f} renewed ids/s): panel side "
            f"{panel:.2f} CPU s/s (spread over the replicas), redis-server {server:.2f} "
            f"CPU s/s (one core max), Redis memory "
            f"{memory / args.sessions * TARGET_VIEWERS / 2**20:,.0f} MiB for the slots"
        )
    finally:
        await slots.close()
        await leases.close()


async def run(url: str, args: argparse.Namespace) -> None:
    prefix = f"palinsesto-bench-{uuid.uuid4().hex[:8]}"
    cpu = RedisCpu(url)
    await round_trips(url, f"{prefix}-1", cpu, args.calls)
    await control_plane(url, prefix, cpu, args)
    keys = list(cpu.client.scan_iter(match=f"{prefix}*", count=10_000))
    for start in range(0, len(keys), 10_000):
        cpu.client.delete(*keys[start : start + 10_000])
    cpu.client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="", help="an existing Redis (default: start one)")
    parser.add_argument("--nodes", type=int, default=1_000)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=6.0, help="per control-plane phase")
    parser.add_argument("--calls", type=int, default=1_000, help="per round-trip measurement")
    args = parser.parse_args()
    if args.redis:
        asyncio.run(run(args.redis, args))
    else:
        with private_redis() as url:
            asyncio.run(run(url, args))


if __name__ == "__main__":
    main()
