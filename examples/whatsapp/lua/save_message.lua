-- Saves a message in its conversation, once.
-- Runs after sweep_pending.lua, which redisstore.go puts before it.
--
-- KEYS[1]  the conversation <prefix>:{<wa_id>}:conv: list of message IDs, newest first
-- KEYS[2]  its messages     <prefix>:{<wa_id>}:msgs: hash, message ID -> JSON record
-- ARGV[1]  the message ID
-- ARGV[2]  its JSON record: id, wa_id, dir, type, text, at, key, and status,
--          rank, status_at, error when it has a status (numbers as strings)
-- ARGV[3]  history length: the conversation keeps this many newest messages
-- ARGV[4]  TTL of both keys, seconds
-- ARGV[5]  now, Unix ms
-- ARGV[6]  how long a receipt waits for its message, ms
--
-- Returns 1 when the message was new to the conversation, 0 when it was
-- saved before (its record is replaced, the history is not repeated). A
-- status a receipt stored first, or a later one, is kept. Messages trimmed
-- from the history are deleted from the hash, and so are receipts whose
-- message has not come for ARGV[6] (see update_status.lua), once the hash
-- holds more than ARGV[3] records.
local id, keep = ARGV[1], tonumber(ARGV[3])
local m = cjson.decode(ARGV[2])
local new = 1
local raw = redis.call('HGET', KEYS[2], id)
if raw then
  local cur = cjson.decode(raw)
  if (tonumber(cur.rank) or 0) > (tonumber(m.rank) or 0) then
    m.status, m.rank, m.status_at, m.error = cur.status, cur.rank, cur.status_at, cur.error
  end
  if not cur.pending then
    new = 0
  end
end
redis.call('HSET', KEYS[2], id, cjson.encode(m))
if new == 1 then
  redis.call('LPUSH', KEYS[1], id)
  local gone = redis.call('LRANGE', KEYS[1], keep, -1)
  if #gone > 0 then
    redis.call('LTRIM', KEYS[1], 0, keep - 1)
    redis.call('HDEL', KEYS[2], unpack(gone))
  end
end
sweep_pending(KEYS[2], keep, tonumber(ARGV[5]) - tonumber(ARGV[6]))
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return new
