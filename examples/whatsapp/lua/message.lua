-- Reads one message.
--
-- KEYS[1]  the conversation's messages <prefix>:{<wa_id>}:msgs: hash, message ID -> JSON record
-- ARGV[1]  the message ID
--
-- Returns its JSON record, or nil.
return redis.call('HGET', KEYS[1], ARGV[1])
