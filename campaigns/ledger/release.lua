-- release: KEYS[5] this bid's settled marker, KEYS[6] its released marker. ARGV: 1 bid id, 2 marker TTL.
-- Returns 'applied', 'duplicate' (already settled or released) or 'none' (no such reservation).
if redis.call('EXISTS', KEYS[5]) == 1 then return 'duplicate' end
local record = redis.call('HGET', KEYS[2], ARGV[1])
if record then
  drop(ARGV[1], record)
  redis.call('SET', KEYS[6], '1', 'EX', ARGV[2])
  return 'applied'
end
if redis.call('EXISTS', KEYS[6]) == 1 then return 'duplicate' end
return 'none'
