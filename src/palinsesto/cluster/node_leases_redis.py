"""Node leases and channel placement in Redis, for several panel replicas.

Keys, all under ``<prefix>:nodes:``:

- ``lease``: hash, node id -> the node's last :class:`NodeLease` as JSON (with its beat
  time and lease end);
- ``tn:<tenant>``: set of the tenant's node ids; ``draining``: set of node ids;
- ``pl:<channel>``: hash, node id -> role; ``nc:<node>``: set of the node's channels.

Each method is one round trip (a script or a transaction). While Redis is unreachable,
calls raise :class:`LeasesUnavailable`; the next call after Redis answers again works.
Because no beat could be recorded meanwhile, for one lease period after such an outage no
node is reported lost for having missed beats during it (the panel would otherwise free
every node's sessions at once).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from palinsesto.cluster.node_leases import (
    LeasesUnavailable,
    NodeLease,
    NodeLeases,
    Role,
    check_role,
    effective,
)
from palinsesto.cluster.redis_client import RedisCalls

T = TypeVar("T")


# ARGV: prefix, node, tenant, lease json.
_BEAT = """
redis.call('HSET', ARGV[1] .. 'lease', ARGV[2], ARGV[4])
redis.call('SADD', ARGV[1] .. 'tn:' .. ARGV[3], ARGV[2])
return 0
"""

# ARGV: prefix, tenant ("" = all). Returns {draining ids..., '', lease json...}.
_NODES = """
local P = ARGV[1]
local result = redis.call('SMEMBERS', P .. 'draining')
table.insert(result, '')
local leases
if ARGV[2] == '' then
  leases = redis.call('HVALS', P .. 'lease')
else
  local ids = redis.call('SMEMBERS', P .. 'tn:' .. ARGV[2])
  if #ids == 0 then return result end
  leases = redis.call('HMGET', P .. 'lease', unpack(ids))
end
for _, lease in ipairs(leases) do
  if lease then table.insert(result, lease) end
end
return result
"""

# ARGV: prefix, node. Forgets the lease (and the node in its tenant's set) and the flag.
_FORGET = """
local P = ARGV[1]
local raw = redis.call('HGET', P .. 'lease', ARGV[2])
if raw then
  local tenant = string.format('%d', cjson.decode(raw)['tenant_id'])
  redis.call('SREM', P .. 'tn:' .. tenant, ARGV[2])
  redis.call('HDEL', P .. 'lease', ARGV[2])
end
redis.call('SREM', P .. 'draining', ARGV[2])
return 0
"""

# ARGV: prefix, channel, node, role. 1 placed, 0 another node is the origin.
_PLACE = """
local P = ARGV[1]
local key = P .. 'pl:' .. ARGV[2]
if ARGV[4] == 'origin' then
  local nodes = redis.call('HGETALL', key)
  for i = 1, #nodes, 2 do
    if nodes[i + 1] == 'origin' and nodes[i] ~= ARGV[3] then return 0 end
  end
end
redis.call('HSET', key, ARGV[3], ARGV[4])
redis.call('SADD', P .. 'nc:' .. ARGV[3], ARGV[2])
return 1
"""

# ARGV: prefix, node. Returns the channels it carried.
_CLEAR_NODE = """
local P = ARGV[1]
local channels = redis.call('SMEMBERS', P .. 'nc:' .. ARGV[2])
for _, channel in ipairs(channels) do
  redis.call('HDEL', P .. 'pl:' .. channel, ARGV[2])
end
redis.call('DEL', P .. 'nc:' .. ARGV[2])
return channels
"""


class RedisNodeLeases(NodeLeases):
    """:class:`NodeLeases` shared by every panel replica using the same Redis and prefix."""

    def __init__(self, url: str, prefix: str = "palinsesto", *, timeout: float = 1.0) -> None:
        super().__init__()
        self._prefix = f"{prefix}:nodes:"
        self._calls = RedisCalls(url, "node store", LeasesUnavailable, timeout=timeout)
        self._redis = self._calls.redis
        self._beat = self._redis.register_script(_BEAT)
        self._nodes = self._redis.register_script(_NODES)
        self._forget = self._redis.register_script(_FORGET)
        self._place = self._redis.register_script(_PLACE)
        self._clear_node = self._redis.register_script(_CLEAR_NODE)
        self._down = False
        self._recovered_at = float("-inf")  # wall time of the last recovery from an outage

    async def beat(self, lease: NodeLease, lease_seconds: float, now: float) -> None:
        stamped = dataclasses.replace(
            lease, last_beat=now, beat_age=0.0, lease_until=now + lease_seconds
        )
        raw = json.dumps(stamped.to_json())
        args: list[str | int] = [self._prefix, lease.node_id, lease.tenant_id, raw]
        await self._guard(lambda: self._beat(keys=[], args=args))

    async def nodes(self, tenant_id: int | None, now: float) -> list[NodeLease]:
        tenant = "" if tenant_id is None else str(tenant_id)
        reply = await self._guard(lambda: self._nodes(keys=[], args=[self._prefix, tenant]))
        split = reply.index(b"")
        draining = {int(i) for i in reply[:split]}
        leases = []
        for raw in reply[split + 1 :]:
            lease = NodeLease.from_json(json.loads(raw))
            if tenant_id is not None and lease.tenant_id != tenant_id:
                continue
            # No beat could land during an outage: count the lease from the recovery.
            until = max(lease.lease_until, self._recovered_at + lease.lease_until - lease.last_beat)
            lease = dataclasses.replace(lease, lease_until=until)
            leases.append(effective(lease, lease.node_id in draining, now))
        return sorted(leases, key=lambda lease: lease.node_id)

    async def set_draining(self, node_id: int, draining: bool) -> None:
        key = f"{self._prefix}draining"
        if draining:
            await self._guard(lambda: self._redis.sadd(key, str(node_id)))
        else:
            await self._guard(lambda: self._redis.srem(key, str(node_id)))

    async def forget(self, node_id: int) -> None:
        await self._guard(lambda: self._forget(keys=[], args=[self._prefix, node_id]))

    async def place(self, channel_id: int, node_id: int, role: Role) -> bool:
        check_role(role)
        reply = await self._guard(
            lambda: self._place(keys=[], args=[self._prefix, channel_id, node_id, role])
        )
        return bool(reply)

    async def placements(self, channel_id: int) -> list[tuple[int, Role]]:
        raw = await self._guard(lambda: self._redis.hgetall(f"{self._prefix}pl:{channel_id}"))
        pairs = [
            (int(node), check_role(role.decode() if isinstance(role, bytes) else role))
            for node, role in raw.items()
        ]
        return sorted(pairs, key=lambda item: (item[1] != "origin", item[0]))

    async def channels_of_node(self, node_id: int) -> list[int]:
        raw = await self._guard(lambda: self._redis.smembers(f"{self._prefix}nc:{node_id}"))
        return sorted(int(c) for c in raw)

    async def unplace(self, channel_id: int, node_id: int) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.hdel(f"{self._prefix}pl:{channel_id}", str(node_id))
        pipe.srem(f"{self._prefix}nc:{node_id}", str(channel_id))
        await self._guard(pipe.execute)

    async def clear_node(self, node_id: int) -> list[int]:
        reply = await self._guard(lambda: self._clear_node(keys=[], args=[self._prefix, node_id]))
        return sorted(int(c) for c in reply)

    async def close(self) -> None:
        await self._calls.close()

    async def _guard(self, make: Callable[[], Awaitable[T]]) -> T:
        """One call through the client; remembers an outage (see the module doc)."""
        try:
            result = await self._calls.call(make)
        except LeasesUnavailable:
            self._down = True
            raise
        if self._down:
            self._down = False
            self._recovered_at = time.time()
        return result
