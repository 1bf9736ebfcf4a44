-- Records which message a send job sent, unless it was recorded before.
--
-- KEYS[1]  the send mark <prefix>:sent:<send job key>
-- ARGV[1]  the message ID   ARGV[2]  TTL, seconds
--
-- Returns 1 when recorded, 0 when the job already had a message (the first
-- one stays).
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  return 1
end
return 0
