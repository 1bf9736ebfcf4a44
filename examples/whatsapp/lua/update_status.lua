-- Applies a delivery receipt unless the message has a later one.
--
-- KEYS[1]  the message hash <prefix>:{<wa_id>}:msg:<id>
-- ARGV[1]  status   ARGV[2]  its rank (sent 1 < delivered 2 < read 3 < played 4 < failed 5)
-- ARGV[3]  at (Unix ms)   ARGV[4]  error text, or ""
-- ARGV[5]  id       ARGV[6]  wa_id    ARGV[7]  TTL, seconds
--
-- Returns 1 when applied, 0 when the message already had this or a later
-- status. A receipt for a message not saved yet creates its hash, which
-- the save completes.
local cur = tonumber(redis.call('HGET', KEYS[1], 'rank') or '0')
if tonumber(ARGV[2]) <= cur then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'rank', ARGV[2], 'status_at', ARGV[3], 'error', ARGV[4],
  'id', ARGV[5], 'wa_id', ARGV[6])
if redis.call('HEXISTS', KEYS[1], 'dir') == 0 then
  redis.call('HSET', KEYS[1], 'dir', 'out')
end
redis.call('EXPIRE', KEYS[1], ARGV[7])
return 1
