-- reserve: KEYS[5] the user's billed-impression counter.
-- ARGV: 1 bid id, 2 cost, 3 now, 4 expires at, 5 total budget, 6 daily budget, 7 today's field,
-- 8 pacing limit, 9 frequency cap, 10 user, 11 sweep limit, 12 cap window, 13 pacing name
-- (budgets, limit and cap: -1 = none). Returns 'ok' or why not.
sweep(ARGV[3], ARGV[11])
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'exists' end
local cost = tonumber(ARGV[2])
local m = redis.call('HMGET', KEYS[1], 'spent', 'reserved', ARGV[7])
local spent, reserved, today = tonumber(m[1] or 0), tonumber(m[2] or 0), tonumber(m[3] or 0)
local total, daily, pace = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[8])
if total >= 0 and spent + reserved + cost > total then return 'total' end
if daily >= 0 and today + reserved + cost > daily then return 'daily' end
if pace >= 0 and today + reserved + cost > pace then return 'pacing' end
local cap, user, held_user = tonumber(ARGV[9]), ARGV[10], ''
if cap >= 0 and user ~= '' then
  local billed = tonumber(redis.call('GET', KEYS[5]) or 0)
  local held = tonumber(redis.call('HGET', KEYS[4], user) or 0)
  if billed + held >= cap then return 'frequency' end
  redis.call('HINCRBY', KEYS[4], user, 1)
  redis.call('HSET', KEYS[1], 'window', ARGV[12])
  held_user = user
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ':' .. held_user)
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[2])
redis.call('HSET', KEYS[1], 'daily', ARGV[6], 'pacing', ARGV[13])
return 'ok'
