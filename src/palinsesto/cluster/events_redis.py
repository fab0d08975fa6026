"""Change events through Redis, so that several panel processes and nodes see each other's edits.

What Redis holds, all under one prefix (several panels may share a Redis):

- ``<prefix>:versions``, one hash (so eviction or a restart without persistence loses it as
  a whole, never a single counter): the field ``epoch`` (milliseconds since 1970 when the
  hash was started) and one counter per ``<tenant>:<topic>``;
- ``<prefix>:changes``, the channel. A publish runs one script that bumps the counter and
  publishes ``<origin> <epoch> <counter> <tenant>:<topic>`` on it.

Every process keeps a mirror of the hash: ``version(tenant, topic)`` is ``epoch << 40 |
counter`` read from a dict, never a Redis round trip, and is the same number on every
process once the change has arrived (so an ETag built from it means the same everywhere).
A background thread subscribes, updates the mirror and calls the local listeners.

Reconnecting: each time the thread (re)subscribes, it first pushes the changes this process
made while Redis was unreachable, then re-reads the whole hash, and calls the listeners for
every key whose version moved meanwhile. Subscribing comes before reading, so a change
published in between arrives as a message, and none falls through the gap.

While Redis is unreachable the process logs it once and serves on: ``version`` answers
from the mirror, and ``publish`` gives the key a local marker (a random negative number, no
Redis version is negative) so this process's caches rebuild at once, calls its listeners
and remembers the key for the next reconnect. If Redis comes back without its data, a new
epoch starts: every version changes, and the listeners hear about every key known here.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Iterable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from palinsesto.cluster.events import ChangeEvents
from palinsesto.config import mask_url_password

log = logging.getLogger(__name__)

Key = tuple[int, str]

COUNTER_BITS = 40  # a trillion changes per (tenant, topic) and epoch

# KEYS[1] the hash; ARGV: channel, field, fresh epoch, origin. Returns {epoch, counter}.
_PUBLISH = """
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[3])
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local counter = redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('PUBLISH', ARGV[1], ARGV[4] .. ' ' .. epoch .. ' ' .. counter .. ' ' .. ARGV[2])
return {epoch, counter}
"""

# KEYS[1] the hash; ARGV[1] fresh epoch. The whole hash, with an epoch in it.
_READ_ALL = """
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1])
return redis.call('HGETALL', KEYS[1])
"""


class ChangeBusUnavailable(RuntimeError):
    """Redis could not be reached to announce a change."""


def _fresh_epoch() -> str:
    return str(time.time_ns() // 1_000_000)


def _combine(epoch: bytes, counter: int) -> int:
    return (int(epoch) << COUNTER_BITS) | counter


def _field(key: Key) -> str:
    return f"{key[0]}:{key[1]}"


def _parse_field(raw: bytes) -> Key:
    tenant, _, topic = raw.decode().partition(":")
    if not topic:
        raise ValueError(f"not a <tenant>:<topic> field: {raw!r}")
    return int(tenant), topic


def _client(url: str, timeout: float) -> redis.Redis:
    # No silent retries or reconnects inside redis-py: the bus must know about every gap
    # in its subscription to re-read what it may have missed.
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


class _Publisher:
    """Bumps a counter and publishes the change, in one script run."""

    def __init__(self, client: redis.Redis, prefix: str, origin: str) -> None:
        self.hash = f"{prefix}:versions"
        self.channel = f"{prefix}:changes"
        self.origin = origin
        self._script = client.register_script(_PUBLISH)

    def bump(self, key: Key) -> tuple[bytes, int]:
        """The new (epoch, counter) of ``key``; raises redis errors."""
        epoch, counter = self._script(
            keys=[self.hash], args=[self.channel, _field(key), _fresh_epoch(), self.origin]
        )
        return epoch, int(counter)


class RedisChangeEvents(ChangeEvents):
    """:class:`ChangeEvents` shared by every process using the same Redis and prefix.

    The constructor starts the listening thread and waits (up to a few ``timeout``) for the
    first read of the versions, so caches built afterwards start from the shared state.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "palinsesto",
        *,
        timeout: float = 1.0,
        poll_seconds: float = 0.2,
        retry_seconds: float = 0.1,
        max_retry_seconds: float = 2.0,
    ) -> None:
        super().__init__()
        self._url = mask_url_password(url)
        self._origin = uuid.uuid4().hex
        self._timeout = timeout
        self._poll_seconds = poll_seconds
        self._retry_seconds = retry_seconds
        self._max_retry_seconds = max_retry_seconds
        self._redis = _client(url, timeout)
        self._publisher = _Publisher(self._redis, prefix, self._origin)
        self._hash, self._channel = self._publisher.hash, self._publisher.channel
        self._read_script = self._redis.register_script(_READ_ALL)
        # (mirror, version of keys absent from it); swapped whole when the epoch changes.
        self._state: tuple[dict[Key, int], int] = ({}, 0)
        self._epoch: bytes | None = None
        self._pending: set[Key] = set()
        self._connected = False
        self._resync_needed = False
        self._down_logged = False
        self._stopping = threading.Event()
        self._first_attempt = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="palinsesto-change-events", daemon=True
        )
        self._thread.start()
        self._first_attempt.wait(timeout * 3)

    # ---- the ChangeEvents interface ----

    def version(self, tenant_id: int, topic: str) -> int:
        versions, base = self._state
        return versions.get((tenant_id, topic), base)

    def publish(self, tenant_id: int, topic: str) -> None:
        """Bump the shared version and tell every process; never raises (see module doc)."""
        key = (tenant_id, topic)
        if self._connected:
            try:
                epoch, counter = self._publisher.bump(key)
            except (redis.RedisError, OSError) as exc:
                self._went_down(exc)
            else:
                self._apply_own(key, epoch, counter)
                self._notify(tenant_id, topic)
                return
        with self._lock:
            self._pending.add(key)
            self._mark_locally(key)
        self._notify(tenant_id, topic)

    def close(self) -> None:
        """Stop listening and close the connections (idempotent)."""
        self._stopping.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=self._poll_seconds + self._timeout * 3)
        self._redis.close()

    @property
    def connected(self) -> bool:
        """Whether the last exchange with Redis worked (for health reports and tests)."""
        return self._connected

    # ---- publishing ----

    def _apply_own(self, key: Key, epoch: bytes, counter: int) -> None:
        with self._lock:
            if epoch != self._epoch:
                # Redis started over (or we never read it): our change is local until resync.
                self._mark_locally(key)
                self._resync_needed = True
                return
            versions, base = self._state
            value = _combine(epoch, counter)
            if value > versions.get(key, base):
                versions[key] = value

    def _mark_locally(self, key: Key) -> None:
        """Give ``key`` a version no Redis value can equal (called with the lock held)."""
        self._state[0][key] = -1 - secrets.randbits(62)

    # ---- listening ----

    def _run(self) -> None:
        delay = self._retry_seconds
        while not self._stopping.is_set():
            pubsub = self._redis.pubsub()
            try:
                pubsub.subscribe(self._channel)
                self._await_subscribed(pubsub)
                self._resync()
                self._first_attempt.set()
                delay = self._retry_seconds
                self._listen(pubsub)
            except (redis.RedisError, OSError) as exc:
                self._went_down(exc)
            except Exception as exc:
                # A bug here must not end the thread: this process would go deaf for good.
                log.exception("change-event listener failed; reconnecting")
                self._went_down(exc)
            finally:
                self._first_attempt.set()
                with contextlib.suppress(redis.RedisError, OSError):
                    pubsub.close()
            self._stopping.wait(delay)
            delay = min(delay * 2, self._max_retry_seconds)

    def _await_subscribed(self, pubsub: redis.client.PubSub) -> None:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=self._timeout)
            if message is not None and message["type"] == "subscribe":
                return
        raise redis.TimeoutError("no subscription confirmation from Redis")

    def _listen(self, pubsub: redis.client.PubSub) -> None:
        while not self._stopping.is_set():
            message = pubsub.get_message(timeout=self._poll_seconds)
            if message is not None:
                if message["type"] == "message":
                    self._on_message(message["data"])
                elif message["type"] == "subscribe":
                    self._resync_needed = True  # subscribed again behind our back
            if self._resync_needed or self._pending:
                self._resync()

    def _on_message(self, data: bytes) -> None:
        try:
            origin, epoch, counter, field = data.split(b" ", 3)
            key = _parse_field(field)
            value = _combine(epoch, int(counter))
        except ValueError:
            log.warning("ignoring a malformed change event on %s: %r", self._channel, data)
            return
        with self._lock:
            if epoch != self._epoch:
                self._resync_needed = True  # the resync notifies
                return
            versions, base = self._state
            if value > versions.get(key, base):
                versions[key] = value
        if origin.decode() != self._origin:
            self._notify(*key)

    def _resync(self) -> None:
        """Push changes made while away, re-read every version, notify the ones that moved."""
        with self._lock:
            self._resync_needed = False
        self._flush_pending()
        flat = self._read_script(keys=[self._hash], args=[_fresh_epoch()])
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        epoch = fields.pop(b"epoch")
        fresh: dict[Key, int] = {}
        for raw, counter in fields.items():
            try:
                fresh[_parse_field(raw)] = _combine(epoch, int(counter))
            except ValueError:
                log.warning("ignoring a malformed field %r in %s", raw, self._hash)
        base = _combine(epoch, 0)
        with self._lock:
            old, old_base = self._state
            if epoch == self._epoch:
                # Same epoch: never step back (a publish may have landed after the read).
                for key, value in old.items():
                    if value > fresh.get(key, base):
                        fresh[key] = value
            moved = [
                k for k in old.keys() | fresh.keys() if old.get(k, old_base) != fresh.get(k, base)
            ]
            self._state = (fresh, base)
            self._epoch = epoch
            self._connected = True
            was_down, self._down_logged = self._down_logged, False
        if was_down:
            log.warning("Redis at %s is reachable again; change events resynchronised", self._url)
        for tenant_id, topic in moved:
            self._notify(tenant_id, topic)

    def _flush_pending(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    return
                key = self._pending.pop()
            try:
                self._publisher.bump(key)
            except BaseException:
                with self._lock:
                    self._pending.add(key)
                raise

    def _went_down(self, exc: BaseException) -> None:
        with self._lock:
            self._connected = False
            self._resync_needed = True
            first, self._down_logged = not self._down_logged, True
        if first:
            log.warning(
                "Redis at %s is unreachable (%s): serving on with this process's change "
                "events only; other processes will hear of them once Redis is back",
                self._url,
                exc,
            )


def publish_changes(
    url: str, prefix: str, changes: Iterable[tuple[int, str]], timeout: float = 2.0
) -> None:
    """Announce changes made outside a server (the CLI) to every process listening.

    Raises :class:`ChangeBusUnavailable` when Redis cannot be reached.
    """
    client = _client(url, timeout)
    publisher = _Publisher(client, prefix, origin="cli")
    try:
        for key in changes:
            publisher.bump(key)
    except (redis.RedisError, OSError) as exc:
        raise ChangeBusUnavailable(f"Redis at {mask_url_password(url)}: {exc}") from exc
    finally:
        client.close()
