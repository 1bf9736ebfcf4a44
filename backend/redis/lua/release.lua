-- release.lua: hands an active job held by the token back to the consuming
-- end of its list without counting an attempt (shutdown, rate limit).
-- ARGV[3] id, [4] token
-- Reply: 0 released | -1 lock lost | -2 no such job
local id = ARGV[3]
local st, code = check_lock(id, ARGV[4])
if not st then return code end
unlock(id)
local prio, lifo = header(rcall('HGET', K_JOBS, id))
push_ready(id, prio, lifo, true, st)
emit('released', id)
return 0
