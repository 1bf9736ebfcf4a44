-- Reads the newest messages of a conversation.
--
-- KEYS[1]  the conversation <prefix>:{<wa_id>}:conv: list of message IDs, newest first
-- KEYS[2]  its messages     <prefix>:{<wa_id>}:msgs: hash, message ID -> JSON record
-- ARGV[1]  how many, at least 1
--
-- Returns the JSON records of the newest ARGV[1] messages, newest first
-- (nil for a record that is missing), or an empty array.
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then
  return {}
end
return redis.call('HMGET', KEYS[2], unpack(ids))
