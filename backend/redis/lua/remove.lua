-- remove.lua: deletes a job that is not active, with its logs. A flow
-- parent takes its unfinished children with it; a pending flow child
-- stops being waited for (lib_flows.lua, remove_job).
-- ARGV[3] id
-- Reply: 0 | -2 no such job | -4 active
flows_init()
local id = ARGV[3]
local rec, st = load(id)
if not rec then return -2 end
if st.s == 'A' then return -4 end
remove_job(id, st)
feed()
return 0
