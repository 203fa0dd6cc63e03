"""Lua scripts of the Redis store: every check-and-change is one script, so it is atomic.

Each script touches only keys of one hash tag — `{c:TEMPLATE}`, `{f:SALE}` or `{g:KIND:ID}` — and
declares them all in KEYS, so the store works on Redis Cluster. The rules are the same as the
SQLite store's (`sqlite_store.py`); the shared test suite holds both to the same answers.

Replies: {reason, ref, detail_json} or {"replay", stored_json}.
"""

from __future__ import annotations

# Shared helpers. KEYS of op scripts end with: idem key, audit stream. ARGV[1] = now (ms).
PRELUDE = r"""
local now = tonumber(ARGV[1])
local function log(audit, op, target, who, outcome, ref, detail)
  redis.call('XADD', audit, '*', 'ts', now, 'op', op, 'target', target,
    'customer', who[1] or '', 'device', who[2] or '', 'ip', who[3] or '',
    'outcome', outcome, 'ref', ref or '', 'detail', cjson.encode(detail or {}))
end
local function replay(idem, fp)
  local prev = redis.call('GET', idem)
  if not prev then return nil end
  if cjson.decode(prev).fp ~= fp then return {'idempotency_conflict', '', '{}'} end
  return {'replay', prev}
end
local function remember(idem, fp, ttl, ref, detail)
  redis.call('SET', idem, cjson.encode({fp = fp, r = 'ok', ref = ref, d = detail}), 'PX', ttl)
end
local function ok(ref, detail) return {'ok', ref, cjson.encode(detail or {})} end
local function no(reason) return {reason, '', '{}'} end
-- Token bucket kept as one string "tokens:last_ms" (full when absent; gone 2 minutes after the
-- last use, when it would be full again anyway).
local function take(state, rate)
  local tokens, last = rate, now
  if state then
    local sep = string.find(state, ':', 1, true)
    tokens, last = tonumber(string.sub(state, 1, sep - 1)), tonumber(string.sub(state, sep + 1))
  end
  tokens = math.min(rate, tokens + math.max(0, now - last) * rate / 60000)
  local allowed = tokens >= 1
  if allowed then tokens = tokens - 1 end
  return allowed, string.format('%.6f:%d', tokens, now)
end
-- Guards inside the operation's script (single Redis server): KEYS[first_key…] are pairs
-- (block, bucket) per subject, ARGV[first_arg…] their rates per minute. Same rules as GUARD.
local function guard_all(first_key, first_arg)
  local n = (#KEYS - first_key + 1) / 2
  if n < 1 then return nil end
  local state = redis.call('MGET', unpack(KEYS, first_key, #KEYS))  -- blocks and buckets at once
  for i = 0, n - 1 do
    local b = state[2 * i + 1]
    if b and (b == '0' or tonumber(b) > now) then return 'risk_blocked' end
  end
  for i = 0, n - 1 do
    local rate = tonumber(ARGV[first_arg + i])
    if rate > 0 then
      local allowed, bucket = take(state[2 * i + 2], rate)
      redis.call('SET', KEYS[first_key + 2 * i + 1], bucket, 'PX', 120000)
      if not allowed then return 'rate_limited' end
    end
  end
  return nil
end
"""

# KEYS: block, bucket. ARGV: now, rate per minute (0 = off).
GUARD = (
    PRELUDE
    + r"""
local rate = tonumber(ARGV[2])
local until_ms = redis.call('GET', KEYS[1])
if until_ms and (until_ms == '0' or tonumber(until_ms) > now) then return 'risk_blocked' end
if rate <= 0 then return 'ok' end
local allowed, state = take(redis.call('GET', KEYS[2]), rate)
redis.call('SET', KEYS[2], state, 'PX', 120000)
if allowed then return 'ok' end
return 'rate_limited'
"""
)

# KEYS: failures zset, block. ARGV: now, window ms, threshold, block ms, unique member.
FAIL = r"""
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then return 0 end
if redis.call('GET', KEYS[2]) == '0' then return 1 end
redis.call('SET', KEYS[2], now + tonumber(ARGV[4]), 'PX', ARGV[4])
return 1
"""

# Scripts with guards take, after their own KEYS and ARGV, the guard keys and rates (see
# guard_all); with none (Redis Cluster, where guards run first as GUARD scripts) they skip it.

# KEYS: meta, claims, coupons, held, idem, audit, [guard pairs].
# ARGV: now, template, customer, device, ip, new_customer(0/1), fp, ttl, [rates].
CLAIM = (
    PRELUDE
    + r"""
local tid, who = ARGV[2], {ARGV[3], ARGV[4], ARGV[5]}
local r = replay(KEYS[5], ARGV[7])
if r then return r end
local function done(res) log(KEYS[6], 'claim', tid, who, res[1], res[2]); return res end
local refused = guard_all(7, 9)
if refused then return done(no(refused)) end
local m = redis.call('HMGET', KEYS[1], 'quantity', 'per_customer', 'new_only', 'valid_from',
                    'valid_to', 'issued')
if not m[1] then return done(no('unknown_template')) end
if now < tonumber(m[4]) then return done(no('not_started')) end
if now >= tonumber(m[5]) then return done(no('ended')) end
if m[3] == '1' and ARGV[6] ~= '1' then return done(no('new_customers_only')) end
local had = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0')
if had >= tonumber(m[2]) then return done(no('limit_reached')) end
if tonumber(m[6]) >= tonumber(m[1]) then return done(no('coupons_gone')) end
local n = redis.call('HINCRBY', KEYS[1], 'issued', 1)
redis.call('HINCRBY', KEYS[1], 'held', 1)
redis.call('HSET', KEYS[3], n, cjson.encode({c = ARGV[3], s = 'held', t = now}))
redis.call('SADD', KEYS[4], n)
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
local cid = tid .. '#' .. n
remember(KEYS[5], ARGV[7], ARGV[8], cid, {template = tid})
return done(ok(cid, {template = tid}))
"""
)

# KEYS: meta, coupons, held, idem, audit, [guard pairs].
# ARGV: now, template, customer, device, ip, coupon number, order, amount (-1 = none), fp, ttl,
# [rates]
REDEEM = (
    PRELUDE
    + r"""
local tid, who, cid = ARGV[2], {ARGV[3], ARGV[4], ARGV[5]}, ARGV[2] .. '#' .. ARGV[6]
local r = replay(KEYS[4], ARGV[9])
if r then return r end
local detail = {coupon = cid, order = ARGV[7]}
local function done(res) log(KEYS[5], 'redeem', tid, who, res[1], res[2], detail); return res end
local refused = guard_all(6, 11)
if refused then return done(no(refused)) end
local raw = redis.call('HGET', KEYS[2], ARGV[6])
if not raw then return done(no('unknown_coupon')) end
local c = cjson.decode(raw)
if c.c ~= ARGV[3] then return done(no('not_owner')) end
if c.s == 'redeemed' then
  if c.o == ARGV[7] then return done({'ok', cid, '{"replayed":true}'}) end
  return done(no('already_redeemed'))
end
local m = redis.call('HMGET', KEYS[1], 'valid_to', 'threshold')
if c.s == 'expired' or now >= tonumber(m[1]) then return done(no('coupon_expired')) end
local amount = tonumber(ARGV[8])
if amount >= 0 and amount < tonumber(m[2]) then return done(no('below_threshold')) end
c.s, c.o = 'redeemed', ARGV[7]
redis.call('HSET', KEYS[2], ARGV[6], cjson.encode(c))
redis.call('SREM', KEYS[3], ARGV[6])
redis.call('HINCRBY', KEYS[1], 'held', -1)
redis.call('HINCRBY', KEYS[1], 'redeemed', 1)
remember(KEYS[4], ARGV[9], ARGV[10], cid, {order_id = ARGV[7]})
return done(ok(cid, {order_id = ARGV[7]}))
"""
)

# KEYS: meta, coupons, held, idem, audit. ARGV: now, template, coupon number, order, fp, ttl.
RELEASE = (
    PRELUDE
    + r"""
local tid, cid = ARGV[2], ARGV[2] .. '#' .. ARGV[3]
local r = replay(KEYS[4], ARGV[5])
if r then return r end
local detail = {coupon = cid, order = ARGV[4]}
local function done(res) log(KEYS[5], 'release', tid, {}, res[1], res[2], detail); return res end
local raw = redis.call('HGET', KEYS[2], ARGV[3])
if not raw then return done(no('unknown_coupon')) end
local c = cjson.decode(raw)
if c.s ~= 'redeemed' or c.o ~= ARGV[4] then return done(no('not_redeemed')) end
local state = 'held'
if now >= tonumber(redis.call('HGET', KEYS[1], 'valid_to')) then state = 'expired' end
c.s, c.o = state, nil
redis.call('HSET', KEYS[2], ARGV[3], cjson.encode(c))
if state == 'held' then redis.call('SADD', KEYS[3], ARGV[3]) end
redis.call('HINCRBY', KEYS[1], 'redeemed', -1)
redis.call('HINCRBY', KEYS[1], state, 1)
remember(KEYS[4], ARGV[5], ARGV[6], cid, {state = state})
return done(ok(cid, {state = state}))
"""
)

# KEYS: meta, coupons, held. ARGV: now, batch size. Returns how many expired in this batch.
EXPIRE_COUPONS = r"""
local picked = redis.call('SPOP', KEYS[3], tonumber(ARGV[2]))
if #picked == 0 then return 0 end
for _, n in ipairs(picked) do
  local c = cjson.decode(redis.call('HGET', KEYS[2], n))
  c.s = 'expired'
  redis.call('HSET', KEYS[2], n, cjson.encode(c))
end
redis.call('HINCRBY', KEYS[1], 'held', -#picked)
redis.call('HINCRBY', KEYS[1], 'expired', #picked)
return #picked
"""

# Flash sales. KEYS: meta, buyers, reservations, holds, [idem, audit].
HOLDS = r"""
local function give_back(n, r, state)
  r.st = state
  redis.call('HSET', KEYS[3], n, cjson.encode(r))
  redis.call('ZREM', KEYS[4], n)
  redis.call('HINCRBY', KEYS[1], 'reserved:' .. r.s, -r.q)
  redis.call('HINCRBY', KEYS[1], 'available:' .. r.s, r.q)
  redis.call('HINCRBY', KEYS[2], r.c, -r.q)
end
local function expire_due(limit)
  local due = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, limit)
  for _, n in ipairs(due) do
    local r = cjson.decode(redis.call('HGET', KEYS[3], n))
    if r.st == 'held' then give_back(n, r, 'expired') else redis.call('ZREM', KEYS[4], n) end
  end
  return #due
end
"""

# KEYS: meta, buyers, reservations, holds, idem, audit, [guard pairs].
# ARGV: now, sale, customer, device, ip, session, quantity, per_customer, hold ms, fp, ttl,
# [rates].
RESERVE = (
    PRELUDE
    + HOLDS
    + r"""
local sale, who, session, q = ARGV[2], {ARGV[3], ARGV[4], ARGV[5]}, ARGV[6], tonumber(ARGV[7])
local r = replay(KEYS[5], ARGV[10])
if r then return r end
local detail = {session = session, quantity = q}
local function done(res) log(KEYS[6], 'reserve', sale, who, res[1], res[2], detail); return res end
local refused = guard_all(7, 12)
if refused then return done(no(refused)) end
local units = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0')
if units + q > tonumber(ARGV[8]) then return done(no('limit_reached')) end
local fields = {'available:' .. session, 'reserved:' .. session, 'seq'}
local c = redis.call('HMGET', KEYS[1], unpack(fields))
if not c[1] then return done(no('unknown_sale')) end
if tonumber(c[1]) < q then
  expire_due(1000)
  c = redis.call('HMGET', KEYS[1], unpack(fields))
  if tonumber(c[1]) < q then return done(no('sold_out')) end
end
local n = tonumber(c[3] or '0') + 1
redis.call('HSET', KEYS[1], fields[1], tonumber(c[1]) - q, fields[2], tonumber(c[2]) + q,
           'seq', n)
local expires = now + tonumber(ARGV[9])
redis.call('HSET', KEYS[3], n, cjson.encode({s = session, c = ARGV[3], q = q, st = 'held', e = expires}))
redis.call('ZADD', KEYS[4], expires, n)
redis.call('HINCRBY', KEYS[2], ARGV[3], q)
local rid = sale .. '#' .. n
local out = {session = session, quantity = q, expires_ms = expires}
remember(KEYS[5], ARGV[10], ARGV[11], rid, out)
return done(ok(rid, out))
"""
)

# ARGV: now, sale, reservation number, order, fp, ttl.
CONFIRM = (
    PRELUDE
    + HOLDS
    + r"""
local sale, n, order = ARGV[2], ARGV[3], ARGV[4]
local rid = sale .. '#' .. n
local r = replay(KEYS[5], ARGV[5])
if r then return r end
local detail = {reservation = rid, order = order}
local function done(res) log(KEYS[6], 'confirm', sale, {}, res[1], res[2], detail); return res end
local raw = redis.call('HGET', KEYS[3], n)
if not raw then return done(no('unknown_reservation')) end
local res = cjson.decode(raw)
if res.st == 'confirmed' then
  if res.o == order then return done({'ok', rid, '{"replayed":true}'}) end
  return done(no('already_confirmed'))
end
if res.st == 'cancelled' then return done(no('already_cancelled')) end
if res.st == 'expired' then return done(no('hold_expired')) end
if res.e <= now then give_back(n, res, 'expired'); return done(no('hold_expired')) end
res.st, res.o = 'confirmed', order
redis.call('HSET', KEYS[3], n, cjson.encode(res))
redis.call('ZREM', KEYS[4], n)
redis.call('HINCRBY', KEYS[1], 'reserved:' .. res.s, -res.q)
redis.call('HINCRBY', KEYS[1], 'sold:' .. res.s, res.q)
remember(KEYS[5], ARGV[5], ARGV[6], rid, {order_id = order})
return done(ok(rid, {order_id = order}))
"""
)

# ARGV: now, sale, reservation number, fp, ttl.
CANCEL = (
    PRELUDE
    + HOLDS
    + r"""
local sale, n = ARGV[2], ARGV[3]
local rid = sale .. '#' .. n
local r = replay(KEYS[5], ARGV[4])
if r then return r end
local function done(res) log(KEYS[6], 'cancel', sale, {}, res[1], res[2], {reservation = rid}); return res end
local raw = redis.call('HGET', KEYS[3], n)
if not raw then return done(no('unknown_reservation')) end
local res = cjson.decode(raw)
if res.st == 'confirmed' then return done(no('already_confirmed')) end
if res.st == 'cancelled' then return done(no('already_cancelled')) end
if res.st == 'expired' then return done(no('hold_expired')) end
local state = 'cancelled'
if res.e <= now then state = 'expired' end
give_back(n, res, state)
remember(KEYS[5], ARGV[4], ARGV[5], rid, {quantity = res.q})
return done(ok(rid, {quantity = res.q}))
"""
)

# 满赠 gift ledger. KEYS: meta, idem, audit. ARGV: now, gift, quantity, order, fp, ttl.
TAKE_GIFT = (
    PRELUDE
    + r"""
local gift, q, order = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local r = replay(KEYS[2], ARGV[5])
if r then return r end
local detail = {quantity = q, order = order}
local function done(res) log(KEYS[3], 'gift', gift, {}, res[1], res[2], detail); return res end
local c = redis.call('HMGET', KEYS[1], 'stock', 'given')
if not c[1] then return done(no('unknown_gift')) end
if tonumber(c[2] or '0') + q > tonumber(c[1]) then return done(no('gifts_gone')) end
redis.call('HINCRBY', KEYS[1], 'given', q)
remember(KEYS[2], ARGV[5], ARGV[6], gift, {quantity = q, order_id = order})
return done(ok(gift, {quantity = q, order_id = order}))
"""
)

# A refunded or cancelled order's gift back to the ledger. KEYS and ARGV as TAKE_GIFT.
RETURN_GIFT = (
    PRELUDE
    + r"""
local gift, q, order = ARGV[2], tonumber(ARGV[3]), ARGV[4]
local r = replay(KEYS[2], ARGV[5])
if r then return r end
local detail = {quantity = q, order = order}
local function done(res)
  log(KEYS[3], 'gift_return', gift, {}, res[1], res[2], detail); return res
end
local c = redis.call('HMGET', KEYS[1], 'stock', 'given')
if not c[1] then return done(no('unknown_gift')) end
if tonumber(c[2] or '0') < q then return done(no('bad_quantity')) end
redis.call('HINCRBY', KEYS[1], 'given', -q)
remember(KEYS[2], ARGV[5], ARGV[6], gift, {quantity = q, order_id = order})
return done(ok(gift, {quantity = q, order_id = order}))
"""
)

# KEYS: meta, buyers, reservations, holds. ARGV: now, batch size.
EXPIRE_HOLDS = (
    "local now = tonumber(ARGV[1])\n"
    + HOLDS
    + r"""
return expire_due(tonumber(ARGV[2]))
"""
)
