-- Reads which message a send job sent.
--
-- KEYS[1]  the send mark <prefix>:sent:<send job key>
--
-- Returns the message ID, or nil when the job has not sent one.
return redis.call('GET', KEYS[1])
