-- progress.lua: stores a job's progress and records an event.
-- ARGV[3] id, [4] progress (JSON)
-- Reply: 0 | -2 no such job
local id = ARGV[3]
if rcall('HEXISTS', jk(id), 'j:' .. id) == 0 then return -2 end
rcall('HSET', jk(id), 'p:' .. id, ARGV[4])
emit('progress', id, ARGV[4])
return 0
