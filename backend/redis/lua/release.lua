-- release.lua: hands an active job held by the token back to the consuming
-- end of its list without counting an attempt (shutdown, rate limit).
-- ARGV[3] id, [4] token
-- Reply: 0 released | -1 lock lost | -2 no such job
local id = ARGV[3]
local rec, st = check_lock(id, ARGV[4])
if not rec then return st end
rcall('LREM', K_ACTIVE, 1, id)
local prio, lifo = header(rec)
push_ready(id, prio, lifo, true, st)
emit('released', id)
return 0
