-- drain.lua: removes up to ARGV[4] jobs that have not started: waiting,
-- paused, prioritized, and delayed when ARGV[3] is 1.
-- Reply: {removed in this call, 1 if more may remain}
local budget = tonumber(ARGV[4])
local removed = 0
clear_fed()
local function drain_list(key)
  while budget > 0 do
    local ids = rcall('LPOP', key, math.min(budget, 1000))
    if not ids then return end
    local jobs = {}
    for _, id in ipairs(ids) do
      if id == MARKER then
        rcall('HDEL', K_META, 'mk')
      else
        jobs[#jobs + 1] = id
      end
      budget = budget - 1
    end
    delete_jobs(jobs)
    removed = removed + #jobs
  end
end
local function drain_zset(key)
  while budget > 0 do
    local ids = rcall('ZRANGE', key, 0, math.min(budget, 1000) - 1)
    if #ids == 0 then return end
    rcall('ZREM', key, unpack(ids))
    delete_jobs(ids)
    removed = removed + #ids
    budget = budget - #ids
  end
end
drain_list(K_WAIT)
drain_list(K_PAUSED)
drain_zset(K_PRIO)
if ARGV[3] == '1' then drain_zset(K_DELAYED) end
local more = 0
if budget <= 0 then more = 1 end
return {removed, more}
