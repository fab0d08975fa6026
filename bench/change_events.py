"""Benchmark: change events in process and through Redis.

Run: .venv/bin/python bench/change_events.py [--redis redis://127.0.0.1:6379/0] [--n 2000]

Figures:
- ``version()`` per call (the player API's hot path): the in-process bus, and the Redis
  bus's local mirror. Baseline in the same run: a bare ``dict.get`` on a tuple key.
- ``publish()`` per call (after each admin commit): in process, and through Redis.
- propagation: from ``publish()`` on one bus to a listener on another bus (its own
  connections and thread, as another process would have), p50 / p99 / max. Baseline in the
  same run: a bare redis-py PUBLISH to a bare subscriber thread, same count.
Keys live under a random prefix, deleted at the end.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from collections.abc import Callable

import redis

from palinsesto.cluster.events import ChangeEvents
from palinsesto.cluster.events_redis import RedisChangeEvents


def per_call_ns(call: Callable[[int, str], object], n: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(n):
        call(1, "catalog")
    return (time.perf_counter_ns() - start) / n


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"p50 {statistics.median(ordered) * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms, "
        f"max {ordered[-1] * 1e3:.3f} ms"
    )


def propagation(a: ChangeEvents, b: ChangeEvents, n: int) -> list[float]:
    arrived = threading.Event()
    b.subscribe(lambda _t, _topic: arrived.set())
    samples = []
    for _ in range(n):
        arrived.clear()
        start = time.perf_counter()
        a.publish(1, "catalog")
        if not arrived.wait(5):
            raise RuntimeError("a change event was lost")
        samples.append(time.perf_counter() - start)
    return samples


def bare_redis_propagation(url: str, channel: str, n: int) -> list[float]:
    publisher, subscriber = redis.Redis.from_url(url), redis.Redis.from_url(url)
    pubsub = subscriber.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    arrived = threading.Event()
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            if pubsub.get_message(timeout=0.2) is not None:
                arrived.set()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    time.sleep(0.2)
    samples = []
    for _ in range(n):
        arrived.clear()
        start = time.perf_counter()
        publisher.publish(channel, b"x")
        if not arrived.wait(5):
            raise RuntimeError("a bare message was lost")
        samples.append(time.perf_counter() - start)
    stop.set()
    thread.join()
    pubsub.close()
    publisher.close()
    subscriber.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--n", type=int, default=2000, help="publishes per measurement")
    args = parser.parse_args()
    prefix = f"palinsesto-bench-{uuid.uuid4().hex[:8]}"

    local = ChangeEvents()
    a = RedisChangeEvents(args.redis, prefix)
    b = RedisChangeEvents(args.redis, prefix)
    try:
        plain: dict[tuple[int, str], int] = {(1, "catalog"): 1}
        reads = 1_000_000
        baseline = per_call_ns(lambda t, topic: plain.get((t, topic), 0), reads)
        print(f"version() baseline dict.get : {baseline:7.0f} ns/call")
        print(f"version() in process        : {per_call_ns(local.version, reads):7.0f} ns/call")
        a.publish(1, "catalog")
        print(f"version() Redis mirror      : {per_call_ns(a.version, reads):7.0f} ns/call")

        print(f"publish() in process        : {per_call_ns(local.publish, args.n) / 1e3:7.1f} us")
        print(f"publish() through Redis     : {per_call_ns(a.publish, args.n) / 1e3:7.1f} us")

        bare = bare_redis_propagation(args.redis, f"{prefix}:bare", args.n)
        print(f"propagation baseline (bare redis-py PUBLISH -> subscriber): {percentiles(bare)}")
        print(
            f"propagation bus A -> listener on bus B                    : "
            f"{percentiles(propagation(a, b, args.n))}"
        )
    finally:
        a.close()
        b.close()
        client = redis.Redis.from_url(args.redis)
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()


if __name__ == "__main__":
    main()
