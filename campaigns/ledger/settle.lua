-- settle: KEYS[5] the user's billed-impression counter, KEYS[6] this bid's settled marker.
-- ARGV: 1 bid id, 2 cost, 3 today's field, 4 marker TTL, 5 late (1: past the notice window),
-- 6 an old day's field to drop, 7 1 when the notice names a user. Returns 'applied', 'late' or 'duplicate'.
if redis.call('EXISTS', KEYS[6]) == 1 then return 'duplicate' end
redis.call('SET', KEYS[6], '1', 'EX', ARGV[4])
local record = redis.call('HGET', KEYS[2], ARGV[1])
if record then drop(ARGV[1], record) end
local status = 'applied'
if ARGV[5] == '1' then
  status = 'late'
  redis.call('HINCRBY', KEYS[1], 'late', 1)
  redis.call('HINCRBY', KEYS[1], 'late_micros', ARGV[2])
end
redis.call('HINCRBY', KEYS[1], 'spent', ARGV[2])
redis.call('HINCRBY', KEYS[1], ARGV[3], ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[6])
local window = redis.call('HGET', KEYS[1], 'window')
if window and ARGV[7] == '1' then
  if redis.call('INCR', KEYS[5]) == 1 then redis.call('EXPIRE', KEYS[5], window) end
end
return status
