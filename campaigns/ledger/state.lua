-- state: releases expired reservations (at most ARGV[2] of them, expired at ARGV[1]), then reads
-- the money hash. ARGV[3] today's field. Returns {swept, open reservations, spent, reserved, today,
-- late, late micros, daily, pacing}.
local swept = sweep(ARGV[1], ARGV[2])
local m = redis.call('HMGET', KEYS[1], 'spent', 'reserved', ARGV[3], 'late', 'late_micros', 'daily', 'pacing')
return {swept, redis.call('ZCARD', KEYS[3]), m[1], m[2], m[3], m[4], m[5], m[6], m[7]}
