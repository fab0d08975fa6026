"""Session slots in Redis: every decision is one Lua script, so one atomic round trip.

Keys, all under ``<prefix>:slots:`` (one Redis or a primary with replicas; the scripts
touch keys they compute, so not a Redis Cluster):

- ``s:<id>``: hash t (tenant), l (line), n (node), ip, ua, st (start), mc (max_connections),
  tm (tenant max_viewers, "" = none). ``t`` is "" for a survivor of a data loss (counted
  nowhere, see :mod:`palinsesto.cluster.session_slots`);
- ``np:<node>`` (pending) and ``n:<node>`` (confirmed): sets of the node's held ids;
  ``pend``: sorted set, pending id -> expiry; ``nexp``: sorted set, node -> the expiry of
  its confirmed slots (set by each renew);
- ``l:<tenant>:<line>``: set of the line's held ids; ``tc``: hash, tenant -> held count;
- ``gone``: sorted set, lapsed id -> when; ``g:<node>``: the node's lapsed ids. A lapsed
  id's hash is kept ``EXPIRED_GRACE_SECONDS`` so that its node can renew it back;
- ``k:<node>``: list, the node's kick queue;
- ``d:<node>``: hash, session id -> JSON description
  (:func:`~palinsesto.cluster.session_slots.description`), for the admin's sessions list on
  every replica: written by the reservation that won the slot, when it carried a label,
  deleted with the slot (``drop``; a lapsed slot's stays through its grace); a session
  ended with a mark (``_END``) has the mark there instead, until the panel forgets it;
- ``gs:<group>``: set of a group's held ids (a syndicated channel's partner viewers, or all
  partners' of its offer). The slot hash's ``g`` holds its groups' names, space-separated
  (one or more), ``gm`` their caps in the same order ("-" = none; a missing cap is none,
  so a slot written with one group and ``gm`` "" reads alike); ``groups``: the groups that
  held any; ``gtick``, ``gprev``: the last group tick's time and counts
  (:meth:`group_tick`);
- ``ids``: the session id counter, started from Redis's clock (ms x 1000) the first time
  any script runs, and ``floor`` its first value: an unknown id below it was handed out
  before Redis lost its data, and its node's renew adopts it.

Each script first purges what lapsed (nodes whose ``nexp`` passed, pending slots whose
``pend`` passed), completely, so that the counts it reads are exact.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from typing import Any

from palinsesto.cluster.redis_client import RedisCalls
from palinsesto.cluster.redis_pipe import RedisPipe
from palinsesto.cluster.session_slots import (
    EXPIRED_GRACE_SECONDS,
    TENANT_MAX_VIEWERS,
    USER_MAX_CONNECTIONS,
    GroupTick,
    Kicked,
    Reserved,
    SessionSlots,
    SlotRefused,
    SlotRequest,
    SlotsUnavailable,
    group_refused,
)

# Shared by every script. ARGV[1] is the key prefix (ending in ':'), ARGV[2] now.
_COMMON = """
local P = ARGV[1]
local NOW = tonumber(ARGV[2])
local PEND, NEXP, GONE, TC = P .. 'pend', P .. 'nexp', P .. 'gone', P .. 'tc'

local function init()
  if redis.call('EXISTS', P .. 'ids') == 0 then
    local t = redis.call('TIME')
    local first = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000)) .. '000'
    redis.call('SET', P .. 'ids', first)
    redis.call('SET', P .. 'floor', first)
  end
end

local function count(id, t, l)
  if t ~= '' and redis.call('SADD', P .. 'l:' .. t .. ':' .. l, id) == 1 then
    redis.call('HINCRBY', TC, t, 1)
    local g = redis.call('HGET', P .. 's:' .. id, 'g')
    if g and g ~= '' then
      for name in string.gmatch(g, '%S+') do
        redis.call('SADD', P .. 'gs:' .. name, id)
        redis.call('SADD', P .. 'groups', name)
      end
    end
  end
end

local function uncount(id, t, l)
  if t and t ~= '' and redis.call('SREM', P .. 'l:' .. t .. ':' .. l, id) == 1 then
    redis.call('HINCRBY', TC, t, -1)
    local g = redis.call('HGET', P .. 's:' .. id, 'g')
    if g and g ~= '' then
      for name in string.gmatch(g, '%S+') do redis.call('SREM', P .. 'gs:' .. name, id) end
    end
  end
end

-- The first of a slot's groups (names ``g``, caps ``gm``, space-separated) at its cap, or
-- nil when each has room, once ``victims`` (ids the play would kick; nil: none) are gone:
-- each frees a place only in the groups it is in.
local function full_group(g, gm, victims)
  if not g or g == '' then return nil end
  local caps = {}
  for cap in string.gmatch(gm or '', '%S+') do caps[#caps + 1] = cap end
  local i = 0
  for name in string.gmatch(g, '%S+') do
    i = i + 1
    local cap = tonumber(caps[i] or '-')
    if cap then
      local key = P .. 'gs:' .. name
      local held = redis.call('SCARD', key)
      if held >= cap and victims then
        for _, victim in ipairs(victims) do
          held = held - redis.call('SISMEMBER', key, victim)
        end
      end
      if held >= cap then return name end
    end
  end
  return nil
end

local function detach(id, n)
  redis.call('SREM', P .. 'n:' .. n, id)
  redis.call('SREM', P .. 'np:' .. n, id)
  redis.call('ZREM', PEND, id)
end

-- Forget a slot (released, kicked, its node lost); returns its node.
local function drop(id)
  local h = redis.call('HMGET', P .. 's:' .. id, 't', 'l', 'n')
  redis.call('ZREM', GONE, id)
  redis.call('ZREM', PEND, id)
  if not h[3] then return false end
  uncount(id, h[1], h[2])
  detach(id, h[3])
  redis.call('SREM', P .. 'g:' .. h[3], id)
  redis.call('DEL', P .. 's:' .. id)
  redis.call('HDEL', P .. 'd:' .. h[3], id)
  return h[3]
end

-- Not renewed in time: it stops counting; its hash stays a while so that its node can
-- renew it back.
local function lapse(id)
  local h = redis.call('HMGET', P .. 's:' .. id, 't', 'l', 'n')
  redis.call('ZREM', PEND, id)
  if not h[3] then return end
  uncount(id, h[1], h[2])
  detach(id, h[3])
  redis.call('ZADD', GONE, NOW, id)
  redis.call('SADD', P .. 'g:' .. h[3], id)
end

-- Unbounded, so that counts are exact; amortized, each slot lapses once.
local function purge()
  for _, node in ipairs(redis.call('ZRANGEBYSCORE', NEXP, '-inf', NOW)) do
    for _, id in ipairs(redis.call('SMEMBERS', P .. 'n:' .. node)) do lapse(id) end
    redis.call('ZREM', NEXP, node)
  end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', PEND, '-inf', NOW)) do lapse(id) end
  local old = NOW - GRACE
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', GONE, '-inf', old, 'LIMIT', 0, 1000)) do
    drop(id)
  end
end

local function tenant_count(t)
  return tonumber(redis.call('HGET', TC, t) or '0')
end
""".replace("GRACE", repr(EXPIRED_GRACE_SECONDS))

# One play, a list of 10 strings: id ("0": a new one, taken from the counter in this same
# run, so an admission is one round trip), tenant, line, node, ip, ua, max_connections,
# policy, tenant max ("" = none), ttl, the groups' names and their caps (each space-separated,
# "-" = no cap; "" = no groups: groups of slots counted together, a syndicated channel's
# partner viewers and its offer's); then, if the play is labelled, 3 more: username, item
# id, output, and the slot it wins is described (``d:<node>``) in this same run. Returns
# {'ok', id, kicked id, its node, ...} or {'line'} / {'tenant'} / {'group', the full one}.
# Needs init() first.
_RESERVE_ONE = """
-- The description's JSON, written here rather than by cjson.encode on a table: its
-- numbers keep 14 digits, which would round started_at (ARGV[2], a Python float's repr,
-- already JSON) to a tenth of a millisecond or worse. t, l and the item are decimal ids.
local function description(a, t, l)
  return '{"tenant_id":' .. t .. ',"line_id":' .. l
    .. ',"username":' .. cjson.encode(a[13]) .. ',"channel_id":' .. a[14]
    .. ',"ip":' .. cjson.encode(a[5]) .. ',"user_agent":' .. cjson.encode(a[6])
    .. ',"output":' .. cjson.encode(a[15]) .. ',"started_at":' .. ARGV[2] .. '}'
end

local function reserve(a)
  local id, t, l, n = a[1], a[2], a[3], a[4]
  if id == '0' then
    -- '%.0f': Lua 5.1 prints a number above 1e14 in exponent form; ids are below 2^53.
    id = string.format('%.0f', redis.call('INCR', P .. 'ids'))
  end
  local ip, ua, limit = a[5], a[6], tonumber(a[7])
  local policy, tmax = a[8], a[9]
  local expires = NOW + tonumber(a[10])
  local owner = redis.call('HGET', P .. 's:' .. id, 'n')
  if owner and redis.call('SISMEMBER', P .. 'n:' .. owner, id) == 1 then return {'ok', id} end
  if owner and redis.call('SISMEMBER', P .. 'np:' .. owner, id) == 1 then
    redis.call('ZADD', PEND, 'GT', expires, id)
    return {'ok', id}
  end
  if owner then drop(id) end  -- lapsed: admitted afresh
  local line_key = P .. 'l:' .. t .. ':' .. l
  local over = 0
  if limit > 0 then over = redis.call('SCARD', line_key) - limit + 1 end
  local replaces = over > 0 and policy == 'kick_oldest'
  -- Picked before any limit is checked (only a play that replaces pays for it): a group's
  -- place is freed only by a victim that counted in that group.
  local victims = nil
  if replaces then
    local ranked = {}
    for _, other in ipairs(redis.call('SMEMBERS', line_key)) do
      local h = redis.call('HMGET', P .. 's:' .. other, 'ip', 'ua', 'st')
      local rank = 2
      if h[1] == ip then
        if h[2] == ua then rank = 0 else rank = 1 end
      end
      table.insert(ranked, {rank, tonumber(h[3]), tonumber(other), other})
    end
    table.sort(ranked, function(x, y)
      if x[1] ~= y[1] then return x[1] < y[1] end
      if x[2] ~= y[2] then return x[2] < y[2] end
      return x[3] < y[3]
    end)
    victims = {}
    for i = 1, over do victims[i] = ranked[i][4] end
  end
  -- Every victim is of this tenant (its line's): a replacing play is no new viewer.
  if tmax ~= '' and not replaces and tenant_count(t) >= tonumber(tmax) then
    return {'tenant'}
  end
  local g, gmax = a[11] or '', a[12] or ''
  if g ~= '' then
    local full = full_group(g, gmax, victims)
    if full then return {'group', full} end
  end
  if over > 0 and not replaces then return {'line'} end
  local result = {'ok', id}
  if victims then
    for _, victim in ipairs(victims) do
      local node = drop(victim)
      redis.call('RPUSH', P .. 'k:' .. node, victim)
      table.insert(result, victim)
      table.insert(result, node)
    end
  end
  redis.call('HSET', P .. 's:' .. id, 't', t, 'l', l, 'n', n, 'ip', ip, 'ua', ua,
    'st', ARGV[2], 'mc', a[7], 'tm', tmax, 'g', g, 'gm', gmax)
  count(id, t, l)
  redis.call('SADD', P .. 'np:' .. n, id)
  redis.call('ZADD', PEND, expires, id)
  if a[13] then redis.call('HSET', P .. 'd:' .. n, id, description(a, t, l)) end
  return result
end
"""

# ARGV: prefix, now, the plays as one JSON array of :data:`_RESERVE_ONE` lists (strings).
# Returns a JSON array, one reply per play, decided one after the other. JSON both ways:
# one argument to encode and one string to parse cost the panel a fraction of what ten
# arguments per play and a nested array reply cost redis-py (admission's hot path).
_RESERVE_MANY = (
    _COMMON
    + _RESERVE_ONE
    + """
init()
purge()
local replies = {}
for _, play in ipairs(cjson.decode(ARGV[3])) do table.insert(replies, reserve(play)) end
return cjson.encode(replies)
"""
)

# ARGV: prefix, now, node, ttl, id... (every session the node serves). Returns the ids no
# longer held. Steady state: two set reads per call, no write per session.
_RENEW = (
    _COMMON
    + """
init()
purge()
local node = ARGV[3]
local attached_key, pending_key = P .. 'n:' .. node, P .. 'np:' .. node
local attached, pending, listed = {}, {}, {}
for _, id in ipairs(redis.call('SMEMBERS', attached_key)) do attached[id] = true end
for _, id in ipairs(redis.call('SMEMBERS', pending_key)) do pending[id] = true end
local floor = nil
local gone = {}
for i = 5, #ARGV do
  local id = ARGV[i]
  listed[id] = true
  if attached[id] then
    -- held
  elseif pending[id] then
    redis.call('SMOVE', pending_key, attached_key, id)
    redis.call('ZREM', PEND, id)
  else
    local key = P .. 's:' .. id
    local h = redis.call('HMGET', key, 't', 'l', 'n', 'mc', 'tm', 'g', 'gm')
    local ok = false
    if h[3] == node then
      -- Lapsed: held again if its line and tenant still have room.
      local mc, tm = tonumber(h[4]), h[5]
      ok = h[1] == ''
        or ((mc == 0 or redis.call('SCARD', P .. 'l:' .. h[1] .. ':' .. h[2]) < mc)
          and (tm == '' or tenant_count(h[1]) < tonumber(tm))
          and not full_group(h[6], h[7]))
      if ok then
        redis.call('ZREM', GONE, id)
        redis.call('SREM', P .. 'g:' .. node, id)
        count(id, h[1], h[2])
      end
    elseif not h[3] then
      floor = floor or tonumber(redis.call('GET', P .. 'floor'))
      if tonumber(id) < floor then
        -- Admitted before Redis lost its data: held again, counted nowhere.
        redis.call('HSET', key, 't', '', 'l', '', 'n', node, 'ip', '', 'ua', '',
          'st', ARGV[2], 'mc', '0', 'tm', '')
        ok = true
      end
    end
    if ok then
      redis.call('SADD', attached_key, id)
    else
      table.insert(gone, id)
    end
  end
end
-- Confirmed sessions the node no longer lists have ended there.
for id, _ in pairs(attached) do
  if not listed[id] then drop(id) end
end
redis.call('ZADD', NEXP, NOW + tonumber(ARGV[4]), node)
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
local node = ARGV[3]
local freed = 0
for _, kind in ipairs({'n:', 'np:'}) do
  for _, id in ipairs(redis.call('SMEMBERS', P .. kind .. node)) do
    drop(id)
    freed = freed + 1
  end
end
for _, id in ipairs(redis.call('SMEMBERS', P .. 'g:' .. node)) do drop(id) end
redis.call('DEL', P .. 'n:' .. node, P .. 'np:' .. node, P .. 'g:' .. node, P .. 'k:' .. node,
  P .. 'd:' .. node)
redis.call('ZREM', NEXP, node)
return freed
"""
)

# ARGV: prefix, now, tenant, line ("" = the tenant's count). Returns the count.
_COUNT = (
    _COMMON
    + """
purge()
if ARGV[4] == '' then return tenant_count(ARGV[3]) end
return redis.call('SCARD', P .. 'l:' .. ARGV[3] .. ':' .. ARGV[4])
"""
)

# ARGV: prefix, node. Returns the node's held ids (as of the last purge).
_OF_NODE = """
return redis.call('SUNION', ARGV[1] .. 'n:' .. ARGV[2], ARGV[1] .. 'np:' .. ARGV[2])
"""

# ARGV: prefix, now, session, tenant ("" = any), mark (JSON, "" = none: written where the
# description was, with the kick, so that no heartbeat takes one without the other).
# Returns the node it was on, or 0.
_END = (
    _COMMON
    + """
local id = ARGV[3]
local h = redis.call('HMGET', P .. 's:' .. id, 't', 'n')
if not h[2] or h[1] == '' or (ARGV[4] ~= '' and h[1] ~= ARGV[4]) then return 0 end
if redis.call('SISMEMBER', P .. 'n:' .. h[2], id) == 0
   and redis.call('SISMEMBER', P .. 'np:' .. h[2], id) == 0 then
  return 0
end
drop(id)
redis.call('RPUSH', P .. 'k:' .. h[2], id)
if ARGV[5] ~= '' then redis.call('HSET', P .. 'd:' .. h[2], id, ARGV[5]) end
return tonumber(h[2])
"""
)

# ARGV: prefix, node. Drains the kick queue.
_TAKE_KICKS = """
local key = ARGV[1] .. 'k:' .. ARGV[2]
local ids = redis.call('LRANGE', key, 0, -1)
redis.call('DEL', key)
return ids
"""

# ARGV: prefix, now, group. Returns the group's held ids.
_GROUP_SESSIONS = (
    _COMMON
    + """
purge()
return redis.call('SMEMBERS', P .. 'gs:' .. ARGV[3])
"""
)

# ARGV: prefix, now. Every group's count now (groups left empty are forgotten), and the
# previous tick's time and counts, replaced by these: JSON [seconds, before, counts].
_GROUP_TICK = (
    _COMMON
    + """
purge()
local counts = {}
local flat = {}
for _, g in ipairs(redis.call('SMEMBERS', P .. 'groups')) do
  local n = redis.call('SCARD', P .. 'gs:' .. g)
  if n == 0 then
    redis.call('SREM', P .. 'groups', g)
  else
    counts[g] = n
    table.insert(flat, g)
    table.insert(flat, n)
  end
end
local before = {}
local prev = redis.call('HGETALL', P .. 'gprev')
for i = 1, #prev, 2 do before[prev[i]] = tonumber(prev[i + 1]) end
local last = tonumber(redis.call('GET', P .. 'gtick') or '')
redis.call('SET', P .. 'gtick', ARGV[2])
redis.call('DEL', P .. 'gprev')
if #flat > 0 then redis.call('HSET', P .. 'gprev', unpack(flat)) end
local seconds = 0
if last then seconds = math.max(0, NOW - last) end
if next(before) == nil then before = {_ = 0} end
if next(counts) == nil then counts = {_ = 0} end
return cjson.encode({seconds, before, counts})
"""
)

# ARGV: prefix, now.
_NEXT_ID = (
    _COMMON
    + """
init()
return redis.call('INCR', P .. 'ids')
"""
)


def _group_args(groups: tuple[tuple[str, int | None], ...]) -> tuple[str, str]:
    """The groups' names and caps as :data:`_RESERVE_ONE` takes them."""
    if not groups:
        return ("", "")
    names = " ".join(name for name, _ in groups)
    return (names, " ".join("-" if cap is None else str(cap) for _, cap in groups))


def _reserve_args(req: SlotRequest) -> list[str]:
    label = req.label
    described = [] if label is None else [label.username, str(label.item_id), label.output]
    return [
        str(req.session_id),
        str(req.tenant_id),
        str(req.line_id),
        str(req.node_id),
        req.ip,
        req.user_agent,
        str(max(0, req.max_connections)),
        req.policy.value,
        "" if req.tenant_max_viewers is None else str(req.tenant_max_viewers),
        repr(req.ttl_seconds),
        *_group_args(req.groups),
        *described,
    ]


def _reserved(req: SlotRequest, reply: list[str]) -> Reserved | SlotRefused:
    status = reply[0]
    if status == "tenant":
        return SlotRefused(
            TENANT_MAX_VIEWERS, f"the plan allows {req.tenant_max_viewers} concurrent viewers"
        )
    if status == "group":
        return group_refused(reply[1], req.groups)
    if status == "line":
        return SlotRefused(
            USER_MAX_CONNECTIONS, f"the line is at {req.max_connections} connections"
        )
    if len(reply) == 2:
        return Reserved(int(reply[1]))
    pairs = reply[2:]
    kicked = tuple(Kicked(int(pairs[i]), int(pairs[i + 1])) for i in range(0, len(pairs), 2))
    return Reserved(int(reply[1]), kicked)


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
        # Reservations, the one call per batch of admissions, skip redis-py (its cost per
        # call was most of an admission's): see cluster/redis_pipe.py.
        self._pipe = RedisPipe.for_url(url, "session store", SlotsUnavailable, timeout=timeout)
        self._redis = self._calls.redis
        register = self._redis.register_script
        self._reserve_many = register(_RESERVE_MANY)
        self._renew = register(_RENEW)
        self._release = register(_RELEASE)
        self._release_node = register(_RELEASE_NODE)
        self._count = register(_COUNT)
        self._of_node = register(_OF_NODE)
        self._take_kicks = register(_TAKE_KICKS)
        self._end = register(_END)
        self._next_id = register(_NEXT_ID)
        self._group_sessions = register(_GROUP_SESSIONS)
        self._tick_groups = register(_GROUP_TICK)
        self._queued: list[tuple[SlotRequest, float, asyncio.Future[Reserved]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def next_session_id(self) -> int:
        return int(await self._call(self._next_id, "0"))

    async def reserve(self, req: SlotRequest, now: float) -> Reserved:
        """Reserves arriving while another is in flight go together in the next script
        run (:meth:`reserve_many`, each still decided in arrival order): even through
        the lean connection (cluster/redis_pipe.py) a call costs the panel more CPU than
        the rest of an admission, so under load one call carries many admissions; alone,
        a reserve is sent at once."""
        future: asyncio.Future[Reserved] = asyncio.get_running_loop().create_future()
        self._queued.append((req, now, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_queued())
        return await future

    async def _send_queued(self) -> None:
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                await self._send_batch(batch)
        finally:
            self._sender = None

    async def _send_batch(
        self, batch: list[tuple[SlotRequest, float, asyncio.Future[Reserved]]]
    ) -> None:
        try:
            results = await self.reserve_many(
                [req for req, _, _ in batch], max(now for _, now, _ in batch)
            )
        except BaseException as exc:  # every waiter gets it (SlotsUnavailable, or shutdown)
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(
                        exc if isinstance(exc, Exception) else SlotsUnavailable("shutting down")
                    )
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            if future.done():  # its admission was cancelled; the slot lapses unconfirmed
                continue
            if isinstance(result, SlotRefused):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def reserve_many(
        self, requests: Sequence[SlotRequest], now: float
    ) -> list[Reserved | SlotRefused]:
        """One script run for the whole batch (bulk loads); each play still decided in
        order, as :meth:`reserve` would."""
        if not requests:
            return []
        plays = json.dumps([_reserve_args(req) for req in requests], separators=(",", ":"))
        if self._pipe is not None:
            reply = await self._pipe.evalsha(_RESERVE_MANY, (self._prefix, repr(now), plays))
        else:
            reply = await self._call(self._reserve_many, repr(now), plays)
        replies = json.loads(reply)
        return [_reserved(req, reply) for req, reply in zip(requests, replies, strict=True)]

    async def renew(
        self, node_id: int, session_ids: Iterable[int], ttl_seconds: float, now: float
    ) -> list[int]:
        ids = list(session_ids)
        reply = await self._call(self._renew, repr(now), node_id, repr(ttl_seconds), *ids)
        return [int(i) for i in reply]

    async def release(self, session_ids: Iterable[int]) -> None:
        ids = list(session_ids)
        if ids:
            await self._call(self._release, "0", *ids)

    async def line_count(self, tenant_id: int, line_id: int, now: float) -> int:
        return int(await self._call(self._count, repr(now), tenant_id, line_id))

    async def tenant_count(self, tenant_id: int, now: float) -> int:
        return int(await self._call(self._count, repr(now), tenant_id, ""))

    async def take_kicks(self, node_id: int) -> list[int]:
        reply = await self._calls.call(
            lambda: self._take_kicks(keys=[], args=[self._prefix, node_id])
        )
        return [int(i) for i in reply]

    async def release_node(self, node_id: int) -> int:
        return int(await self._call(self._release_node, "0", node_id))

    async def sessions_of_node(self, node_id: int) -> list[int]:
        reply = await self._calls.call(lambda: self._of_node(keys=[], args=[self._prefix, node_id]))
        return sorted(int(i) for i in reply)

    async def lapsed_of_node(self, node_id: int) -> list[int]:
        key = f"{self._prefix}g:{node_id}"
        reply = await self._calls.call(lambda: self._redis.smembers(key))
        return sorted(int(i) for i in reply)

    async def end(
        self, session_id: int, tenant_id: int | None, *, mark: dict[str, Any] | None = None
    ) -> int:
        tenant = "" if tenant_id is None else str(tenant_id)
        marked = "" if mark is None else json.dumps(mark)
        return int(await self._call(self._end, "0", session_id, tenant, marked))

    async def group_sessions(self, group: str, now: float) -> list[int]:
        return sorted(int(i) for i in await self._call(self._group_sessions, repr(now), group))

    async def group_tick(self, now: float) -> GroupTick:
        seconds, before, counts = json.loads(await self._call(self._tick_groups, repr(now)))
        before.pop("_", None)  # an empty table's stand-in (cjson writes {} as [])
        counts.pop("_", None)
        return GroupTick(float(seconds), before, counts)

    async def descriptions(self, node_id: int) -> dict[int, dict[str, Any]]:
        key = f"{self._prefix}d:{node_id}"
        raw = await self._calls.call(lambda: self._redis.hgetall(key))
        return {int(k): json.loads(v) for k, v in raw.items()}

    async def descriptions_of(
        self, node_id: int, session_ids: Iterable[int]
    ) -> dict[int, dict[str, Any]]:
        ids = [str(i) for i in session_ids]
        if not ids:
            return {}
        key = f"{self._prefix}d:{node_id}"
        raw = await self._calls.call(lambda: self._redis.hmget(key, ids))
        return {int(i): json.loads(v) for i, v in zip(ids, raw, strict=True) if v is not None}

    async def forget(self, node_id: int, session_ids: Iterable[int]) -> None:
        ids = [str(i) for i in session_ids]
        if ids:
            key = f"{self._prefix}d:{node_id}"
            await self._calls.call(lambda: self._redis.hdel(key, *ids))

    async def ping(self) -> None:
        """One PING (the benchmark's baseline; raises :class:`SlotsUnavailable`)."""
        await self._calls.call(lambda: self._redis.ping())

    async def close(self) -> None:
        if self._pipe is not None:
            await self._pipe.close()
        await self._calls.close()

    # ---- plumbing ----

    async def _call(self, script: Any, now: str, *args: object) -> Any:
        return await self._calls.call(lambda: script(keys=[], args=[self._prefix, now, *args]))
