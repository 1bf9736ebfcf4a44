-- promote.lua: moves a delayed job to ready now.
-- ARGV[3] id
-- Reply: 0 | -2 no such job | {-3, state} not delayed
local id = ARGV[3]
local rec, st = load(id)
if not rec then return -2 end
if st.s ~= 'D' then return {-3, visible_state(st.s)} end
rcall('ZREM', K_DELAYED, id)
local prio, lifo = header(rec)
push_ready(id, prio, lifo, false, st)
emit('promoted', id)
return 0
