-- Shared by every ledger script (prepended). KEYS[1] money hash, KEYS[2] reservations hash
-- (bid id -> "<cost micros>:<user held for the cap, or empty>"), KEYS[3] expiry zset (bid id by
-- expiry time), KEYS[4] held hash (user -> open reservations counted against the frequency cap).
-- Amounts travel as decimal strings (a Lua number would print 1e+15), compared as numbers (exact below 2^53).
local function unhold(user)
  if user ~= '' and redis.call('HINCRBY', KEYS[4], user, -1) <= 0 then
    redis.call('HDEL', KEYS[4], user)
  end
end

local function drop(bid, record)
  local cost, user = string.match(record, '^(%d+):(.*)$')
  redis.call('HINCRBY', KEYS[1], 'reserved', '-' .. cost)
  unhold(user)
  redis.call('HDEL', KEYS[2], bid)
  redis.call('ZREM', KEYS[3], bid)
end

-- Releases at most `limit` reservations whose expiry is at or before `now`; returns how many.
local function sweep(now, limit)
  local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)
  for _, bid in ipairs(gone) do
    local record = redis.call('HGET', KEYS[2], bid)
    if record then drop(bid, record) else redis.call('ZREM', KEYS[3], bid) end
  end
  return #gone
end
