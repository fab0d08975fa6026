"""Session slots in Redis: every decision is one Lua script, so one atomic round trip.

Keys, all under ``<prefix>:slots:`` (one Redis or a primary with replicas; the scripts
touch keys they compute, so not a Redis Cluster):

- ``exp``: sorted set, session id -> expiry (unix s) of every held slot; the purge reads it;
- ``s:<id>``: hash t (tenant), l (line), n (node), ip, ua, st (start), mc (max_connections),
  tm (tenant max_viewers, "" = none). ``t`` is "" for a survivor of a data loss (counted
  nowhere, see :mod:`palinsesto.cluster.session_slots`);
- ``l:<tenant>:<line>`` and ``t:<tenant>``: sorted sets id -> expiry, counted with ZCOUNT
  above ``now`` so a count is exact even while the purge lags;
- ``n:<node>``: set of the node's ids (held or expired, until deleted);
- ``gone``: sorted set id -> when it expired; such an id's hash is kept
  ``EXPIRED_GRACE_SECONDS`` so its node can renew it back;
- ``k:<node>``: list, the node's kick queue;
- ``ids``: the session id counter, started from Redis's clock (ms x 1000) the first time
  any script runs, and ``floor`` its first value: an unknown id below it was handed out
  before Redis lost its data, and its node's renew adopts it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from palinsesto.cluster.redis_client import RedisCalls
from palinsesto.cluster.session_slots import (
    EXPIRED_GRACE_SECONDS,
    TENANT_MAX_VIEWERS,
    USER_MAX_CONNECTIONS,
    Kicked,
    Reserved,
    SessionSlots,
    SlotRefused,
    SlotRequest,
    SlotsUnavailable,
)

PURGE_BATCH = 500  # expired slots a script purges at most (bounds its run time)

# Shared by every script. ARGV[1] is the key prefix (ending in ':'), ARGV[2] now.
_COMMON = """
local P = ARGV[1]
local NOW = tonumber(ARGV[2])
local EXP, GONE = P .. 'exp', P .. 'gone'

local function init()
  if redis.call('EXISTS', P .. 'ids') == 0 then
    local t = redis.call('TIME')
    local first = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000)) .. '000'
    redis.call('SET', P .. 'ids', first)
    redis.call('SET', P .. 'floor', first)
  end
end

local function unindex(id, h)
  redis.call('ZREM', EXP, id)
  if h[1] and h[1] ~= '' then
    redis.call('ZREM', P .. 'l:' .. h[1] .. ':' .. h[2], id)
    redis.call('ZREM', P .. 't:' .. h[1], id)
  end
end

local function drop(id)
  local h = redis.call('HMGET', P .. 's:' .. id, 't', 'l', 'n')
  unindex(id, h)
  redis.call('ZREM', GONE, id)
  if h[3] then redis.call('SREM', P .. 'n:' .. h[3], id) end
  redis.call('DEL', P .. 's:' .. id)
  return h[3]
end

local function lapse(id)
  local h = redis.call('HMGET', P .. 's:' .. id, 't', 'l', 'n')
  unindex(id, h)
  if h[3] then redis.call('ZADD', GONE, NOW, id) end
end

local function purge()
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', EXP, '-inf', NOW, 'LIMIT', 0, PURGE_BATCH)) do
    lapse(id)
  end
  local old = NOW - GRACE
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', GONE, '-inf', old, 'LIMIT', 0, PURGE_BATCH)) do
    drop(id)
  end
end

local function held(id)
  local expires = redis.call('ZSCORE', EXP, id)
  if not expires then return false end
  if tonumber(expires) > NOW then return true end
  lapse(id)
  return false
end

local function index(id, t, l, n, expires)
  redis.call('ZADD', EXP, expires, id)
  if t ~= '' then
    redis.call('ZADD', P .. 'l:' .. t .. ':' .. l, expires, id)
    redis.call('ZADD', P .. 't:' .. t, expires, id)
  end
  redis.call('SADD', P .. 'n:' .. n, id)
end

local function live(key)
  return redis.call('ZCOUNT', key, '(' .. ARGV[2], '+inf')
end
""".replace("PURGE_BATCH", str(PURGE_BATCH)).replace("GRACE", repr(EXPIRED_GRACE_SECONDS))

# ARGV: prefix, now, id, tenant, line, node, ip, ua, max_connections, policy, tenant max
# ("" = none), ttl. Returns {'ok', kicked id, its node, ...} or {'line'} / {'tenant'}.
_RESERVE = (
    _COMMON
    + """
init()
purge()
local id, t, l, n = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local ip, ua, limit, policy, tmax = ARGV[7], ARGV[8], tonumber(ARGV[9]), ARGV[10], ARGV[11]
local expires = NOW + tonumber(ARGV[12])
if held(id) then
  local h = redis.call('HMGET', P .. 's:' .. id, 't', 'l', 'n')
  if tonumber(redis.call('ZSCORE', EXP, id)) < expires then index(id, h[1], h[2], h[3], expires) end
  return {'ok'}
end
drop(id)
local line_key = P .. 'l:' .. t .. ':' .. l
local count = live(line_key)
local over = 0
if limit > 0 then over = count - limit + 1 end
local replaces = over > 0 and policy == 'kick_oldest'
if tmax ~= '' and not replaces and live(P .. 't:' .. t) >= tonumber(tmax) then
  return {'tenant'}
end
local result = {'ok'}
if over > 0 then
  if policy ~= 'kick_oldest' then return {'line'} end
  local ranked = {}
  for _, other in ipairs(redis.call('ZRANGEBYSCORE', line_key, '(' .. ARGV[2], '+inf')) do
    local h = redis.call('HMGET', P .. 's:' .. other, 'ip', 'ua', 'st')
    local rank = 2
    if h[1] == ip then
      if h[2] == ua then rank = 0 else rank = 1 end
    end
    table.insert(ranked, {rank, tonumber(h[3]), tonumber(other), other})
  end
  table.sort(ranked, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    if a[2] ~= b[2] then return a[2] < b[2] end
    return a[3] < b[3]
  end)
  for i = 1, over do
    local victim = ranked[i][4]
    local node = drop(victim)
    redis.call('RPUSH', P .. 'k:' .. node, victim)
    table.insert(result, victim)
    table.insert(result, node)
  end
end
redis.call('HSET', P .. 's:' .. id, 't', t, 'l', l, 'n', n, 'ip', ip, 'ua', ua,
  'st', ARGV[2], 'mc', ARGV[9], 'tm', tmax)
index(id, t, l, n, expires)
return result
"""
)

# ARGV: prefix, now, node, ttl, id... Returns the ids no longer held.
_RENEW = (
    _COMMON
    + """
init()
purge()
local node = ARGV[3]
local expires = NOW + tonumber(ARGV[4])
local floor = tonumber(redis.call('GET', P .. 'floor'))
local gone = {}
for i = 5, #ARGV do
  local id = ARGV[i]
  local key = P .. 's:' .. id
  local h = redis.call('HMGET', key, 't', 'l', 'n', 'mc', 'tm')
  local ok = false
  if h[3] == node then
    if held(id) then
      ok = true
    elseif redis.call('ZSCORE', GONE, id) then
      -- Expired: taken back if its line and tenant still have room.
      local mc, tm = tonumber(h[4]), h[5]
      ok = h[1] == ''
        or ((mc == 0 or live(P .. 'l:' .. h[1] .. ':' .. h[2]) < mc)
          and (tm == '' or live(P .. 't:' .. h[1]) < tonumber(tm)))
      if ok then redis.call('ZREM', GONE, id) end
    end
  elseif not h[3] and tonumber(id) < floor then
    -- Admitted before Redis lost its data: held again, counted nowhere.
    redis.call('HSET', key, 't', '', 'l', '', 'n', node, 'ip', '', 'ua', '',
      'st', ARGV[2], 'mc', '0', 'tm', '')
    ok = true
  end
  if ok then
    index(id, h[1] or '', h[2] or '', node, expires)
  else
    table.insert(gone, id)
  end
end
return gone
"""
)

# ARGV: prefix, now, id...
_RELEASE = (
    _COMMON
    + """
for i = 3, #ARGV do drop(ARGV[i]) end
return 0
"""
)

# ARGV: prefix, now, node. Returns how many held slots were freed.
_RELEASE_NODE = (
    _COMMON
    + """
local freed = 0
for _, id in ipairs(redis.call('SMEMBERS', P .. 'n:' .. ARGV[3])) do
  if redis.call('ZSCORE', EXP, id) then freed = freed + 1 end
  drop(id)
end
redis.call('DEL', P .. 'n:' .. ARGV[3], P .. 'k:' .. ARGV[3])
return freed
"""
)

# ARGV: prefix, now, key suffix. Returns the live count of that sorted set.
_COUNT = (
    _COMMON
    + """
purge()
return live(P .. ARGV[3])
"""
)

# ARGV: prefix, now, node. Returns the node's held ids.
_OF_NODE = (
    _COMMON
    + """
local ids = {}
for _, id in ipairs(redis.call('SMEMBERS', P .. 'n:' .. ARGV[3])) do
  if redis.call('ZSCORE', EXP, id) then table.insert(ids, id) end
end
return ids
"""
)

# ARGV: prefix, node. Drains the kick queue.
_TAKE_KICKS = """
local key = ARGV[1] .. 'k:' .. ARGV[2]
local ids = redis.call('LRANGE', key, 0, -1)
redis.call('DEL', key)
return ids
"""

# ARGV: prefix, now.
_NEXT_ID = (
    _COMMON
    + """
init()
return redis.call('INCR', P .. 'ids')
"""
)


class RedisSessionSlots(SessionSlots):
    """:class:`SessionSlots` shared by every panel replica using the same Redis and prefix.

    redis-py retries nothing (a script whose reply was lost may have run; retrying
    ``take_kicks`` would lose kicks): a failed call raises :class:`SlotsUnavailable`, and the
    next call opens a new connection, so the store recovers with Redis, without a restart.
    """

    def __init__(self, url: str, prefix: str = "palinsesto", *, timeout: float = 1.0) -> None:
        super().__init__()
        self._prefix = f"{prefix}:slots:"
        self._calls = RedisCalls(url, "session store", SlotsUnavailable, timeout=timeout)
        self._redis = self._calls.redis
        register = self._redis.register_script
        self._reserve = register(_RESERVE)
        self._renew = register(_RENEW)
        self._release = register(_RELEASE)
        self._release_node = register(_RELEASE_NODE)
        self._count = register(_COUNT)
        self._of_node = register(_OF_NODE)
        self._take_kicks = register(_TAKE_KICKS)
        self._next_id = register(_NEXT_ID)

    async def next_session_id(self) -> int:
        return int(await self._call(self._next_id, "0"))

    async def reserve(self, req: SlotRequest, now: float) -> Reserved:
        reply = await self._call(
            self._reserve,
            repr(now),
            req.session_id,
            req.tenant_id,
            req.line_id,
            req.node_id,
            req.ip,
            req.user_agent,
            max(0, req.max_connections),
            req.policy.value,
            "" if req.tenant_max_viewers is None else req.tenant_max_viewers,
            repr(req.ttl_seconds),
        )
        status = reply[0]
        if status == b"tenant":
            raise SlotRefused(
                TENANT_MAX_VIEWERS, f"the plan allows {req.tenant_max_viewers} concurrent viewers"
            )
        if status == b"line":
            raise SlotRefused(
                USER_MAX_CONNECTIONS, f"the line is at {req.max_connections} connections"
            )
        pairs = reply[1:]
        kicked = tuple(Kicked(int(pairs[i]), int(pairs[i + 1])) for i in range(0, len(pairs), 2))
        return Reserved(req.session_id, kicked)

    async def renew(
        self, node_id: int, session_ids: Iterable[int], ttl_seconds: float, now: float
    ) -> list[int]:
        ids = list(session_ids)
        if not ids:
            return []
        reply = await self._call(self._renew, repr(now), node_id, repr(ttl_seconds), *ids)
        return [int(i) for i in reply]

    async def release(self, session_ids: Iterable[int]) -> None:
        ids = list(session_ids)
        if ids:
            await self._call(self._release, "0", *ids)

    async def line_count(self, tenant_id: int, line_id: int, now: float) -> int:
        return int(await self._call(self._count, repr(now), f"l:{tenant_id}:{line_id}"))

    async def tenant_count(self, tenant_id: int, now: float) -> int:
        return int(await self._call(self._count, repr(now), f"t:{tenant_id}"))

    async def take_kicks(self, node_id: int) -> list[int]:
        reply = await self._calls.call(
            lambda: self._take_kicks(keys=[], args=[self._prefix, node_id])
        )
        return [int(i) for i in reply]

    async def release_node(self, node_id: int) -> int:
        return int(await self._call(self._release_node, "0", node_id))

    async def sessions_of_node(self, node_id: int) -> list[int]:
        reply = await self._call(self._of_node, "0", node_id)
        return sorted(int(i) for i in reply)

    async def ping(self) -> None:
        """One PING (the benchmark's baseline; raises :class:`SlotsUnavailable`)."""
        await self._calls.call(lambda: self._redis.ping())

    async def close(self) -> None:
        await self._calls.close()

    # ---- plumbing ----

    async def _call(self, script: Any, now: str, *args: object) -> Any:
        return await self._calls.call(lambda: script(keys=[], args=[self._prefix, now, *args]))
