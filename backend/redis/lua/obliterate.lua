-- obliterate.lua: deletes every key of the queue (keeping the id sequence,
-- so a generated id is never reused).
-- ARGV[3] force (0|1)
-- Reply: 0 | -5 active jobs and not forced
local active = rcall('LLEN', K_ACTIVE)
if active > 0 and rcall('LPOS', K_ACTIVE, MARKER) then active = active - 1 end
if active > 0 and ARGV[3] ~= '1' then return -5 end
local id = rcall('HGET', K_META, 'id')
for i = 1, #KEYS do rcall('UNLINK', KEYS[i]) end
if id then rcall('HSET', K_META, 'id', id) end
return 0
