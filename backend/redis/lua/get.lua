-- get.lua: reads one job.
-- ARGV[3] id
-- Reply: a job_reply string (a paused queue's waiting jobs as Z) | {-2}
local id = ARGV[3]
local rec, st = load(id)
if not rec then return {-2} end
return job_reply(id, rec, st)
