-- obliterate.lua: deletes every key of the queue (keeping the id sequence,
-- so a generated id is never reused, and the job bucket count, which
-- layout.lua checked), after telling the queues linked to its jobs by
-- flows (lib_flows.lua, flow_let_go).
-- ARGV[3] force (0|1)
-- Reply: 0 | -5 active jobs and not forced
local active = rcall('LLEN', K_ACTIVE)
if active > 0 and rcall('LPOS', K_ACTIVE, MARKER) then active = active - 1 end
if active > 0 and ARGV[3] ~= '1' then return -5 end
flows_init()
flow_let_go()
local kept = rcall('HMGET', K_META, 'id', 'nb')
for i = 1, #KEYS do rcall('UNLINK', KEYS[i]) end
if kept[1] then rcall('HSET', K_META, 'id', kept[1]) end
if kept[2] then rcall('HSET', K_META, 'nb', kept[2]) end
-- What flow_let_go recorded for this queue (a child of a child elsewhere,
-- removed back here) is gone with it: done writes nothing of it.
fresh()
return 0
