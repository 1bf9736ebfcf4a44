-- get.lua: reads one job.
-- ARGV[3] id
-- Reply: {1, id, record, state (with paused waiting jobs as Z), reason, stacks, progress, result} | {-2}
local id = ARGV[3]
local st = get_state(id)
if not st then return {-2} end
local raw = rcall('HGET', K_STATE, id) or ''
if st.s == 'W' and is_paused() then raw = 'Z' .. string.sub(raw, 2) end
return job_reply(id, raw)
