"""The asyncio Redis client of the cluster stores, and the one way they call it.

- redis-py retries nothing: a script whose reply was lost may have run, and retrying a
  non-idempotent one (draining a kick queue) would lose data. A failed call raises; the
  next call opens a new connection, so a store recovers with Redis, without a restart.
- At most ``max_connections`` calls are in flight per store; further callers queue in
  arrival order (an :class:`asyncio.Semaphore`) for up to ``timeout``. redis-py's
  BlockingConnectionPool was not used: under a sustained burst a caller that just released
  a connection takes it again before the woken waiter, which then times out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis import exceptions as errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from palinsesto.config import mask_url_password

T = TypeVar("T")
UNREACHABLE = (
    errors.ConnectionError,
    errors.TimeoutError,
    errors.BusyLoadingError,
    errors.ReadOnlyError,
    OSError,
)
MAX_CONNECTIONS = 32  # per store and process


class RedisCalls:
    """A client plus :meth:`call`, which maps Redis being out of reach to ``unavailable``
    (an exception class taking one message) naming ``what`` and the masked URL."""

    def __init__(
        self,
        url: str,
        what: str,
        unavailable: Callable[[str], Exception],
        *,
        timeout: float = 1.0,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.redis = aioredis.Redis.from_url(
            url,
            max_connections=max_connections,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._where = f"{what} (Redis at {mask_url_password(url)})"
        self._unavailable = unavailable
        self._timeout = timeout
        self._gate = asyncio.Semaphore(max_connections)

    async def call(self, make: Callable[[], Awaitable[T]]) -> T:
        """``await make()``; raises ``unavailable`` if Redis cannot be reached or is too
        busy to take the call within ``timeout``."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._gate.acquire()
        except TimeoutError:
            raise self._unavailable(f"{self._where}: too many calls waiting") from None
        try:
            return await make()
        except UNREACHABLE as exc:
            raise self._unavailable(f"{self._where} unreachable: {exc}") from exc
        finally:
            self._gate.release()

    async def close(self) -> None:
        await self.redis.aclose()
