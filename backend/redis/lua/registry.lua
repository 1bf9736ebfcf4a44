-- registry.lua: the set of queue names the backend has seen (standalone: it
-- does not take the queue keys of lib.lua).
-- KEYS[1] the registry set; for 'tag', the meta hash of the queue's
--   default layout
-- ARGV[1] 'add', 'remove', 'list' or 'tag'; [2] the queue name for add and
--   remove, the queue's hash tag for tag (WithHashTag: lib.lua's
--   check_layout refuses a backend that looks for the queue without it)
-- Reply: 1 / 0 for add and remove; the names for list
if ARGV[1] == 'add' then return redis.call('SADD', KEYS[1], ARGV[2]) end
if ARGV[1] == 'tag' then return redis.call('HSET', KEYS[1], 'tg', ARGV[2]) end
if ARGV[1] == 'remove' then return redis.call('SREM', KEYS[1], ARGV[2]) end
return redis.call('SMEMBERS', KEYS[1])
