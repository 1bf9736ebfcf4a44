-- Saves a message in its conversation, once.
--
-- KEYS[1]  the message hash      <prefix>:{<wa_id>}:msg:<id>
-- KEYS[2]  the conversation list <prefix>:{<wa_id>}:conv (message IDs, newest first)
-- ARGV[1]  id            ARGV[2]  wa_id        ARGV[3]  direction
-- ARGV[4]  type          ARGV[5]  text         ARGV[6]  at (Unix ms)
-- ARGV[7]  key (send job, or "")               ARGV[8]  history length
-- ARGV[9]  TTL of both keys, seconds
--
-- Returns 1 when the message was new to the conversation, 0 when it was
-- saved before (its fields are updated, the history is not repeated).
-- A status a receipt stored first is kept. Messages trimmed from the
-- history expire with their TTL.
local new = redis.call('HSETNX', KEYS[1], 'listed', '1')
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'wa_id', ARGV[2], 'dir', ARGV[3], 'type', ARGV[4],
  'text', ARGV[5], 'at', ARGV[6], 'key', ARGV[7])
redis.call('EXPIRE', KEYS[1], ARGV[9])
if new == 1 then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[8]) - 1)
end
redis.call('EXPIRE', KEYS[2], ARGV[9])
return new
