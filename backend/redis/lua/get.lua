-- get.lua: reads one job.
-- ARGV[3] id
-- Reply: {1, id, record, state (a paused queue's waiting jobs as Z), reason, stacks, progress, result} | {-2}
local id = ARGV[3]
local rec, st = load(id)
if not rec then return {-2} end
return job_reply(id, rec, st)
