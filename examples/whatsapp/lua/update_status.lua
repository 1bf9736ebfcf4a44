-- Applies a delivery receipt unless the message has this or a later status.
-- Runs after sweep_pending.lua, which redisstore.go puts before it.
--
-- KEYS[1]  the conversation <prefix>:{<wa_id>}:conv: list of message IDs, newest first
-- KEYS[2]  its messages     <prefix>:{<wa_id>}:msgs: hash, message ID -> JSON record
-- ARGV[1]  message ID    ARGV[2]  wa_id
-- ARGV[3]  status        ARGV[4]  its rank (sent 1 < delivered 2 < read 3 < played 4 < failed 5)
-- ARGV[5]  status time, Unix ms (0: unknown)
-- ARGV[6]  error text, or ""
-- ARGV[7]  history length   ARGV[8]  TTL of both keys, seconds
-- ARGV[9]  now, Unix ms     ARGV[10] how long a receipt waits for its message, ms
--
-- Returns 1 when applied, 0 when the message already had this or a later
-- status. A receipt for a message not saved yet creates its record, marked
-- "pending" (with ARGV[9]) and outside the conversation, which the save
-- completes; once the hash holds more than ARGV[7] records, pending ones
-- older than ARGV[10] are deleted.
local raw = redis.call('HGET', KEYS[2], ARGV[1])
local m
if raw then
  m = cjson.decode(raw)
else
  m = { id = ARGV[1], wa_id = ARGV[2], dir = 'out', pending = ARGV[9] }
end
if tonumber(ARGV[4]) <= (tonumber(m.rank) or 0) then
  return 0
end
m.status, m.rank, m.status_at, m.error = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(m))
sweep_pending(KEYS[2], tonumber(ARGV[7]), tonumber(ARGV[9]) - tonumber(ARGV[10]))
redis.call('EXPIRE', KEYS[1], ARGV[8])
redis.call('EXPIRE', KEYS[2], ARGV[8])
return 1
