-- drain.lua: removes up to ARGV[4] jobs that have not started: waiting,
-- paused, prioritized, flow parents waiting for children (with their
-- unfinished children, as remove.lua), and delayed when ARGV[3] is 1. A
-- drained child's parent in another queue stops waiting for it
-- (forget_far); one in this queue is drained too.
-- Reply: {removed in this call, 1 if more may remain}
local budget = tonumber(ARGV[4])
local removed = 0
local far = linked() -- read once, not per batch or group
local function forget(ids) if far then forget_far(ids) end end
clear_fed()
local function drain_list(key)
  while budget > 0 do
    local ids = rcall('LPOP', key, math.min(budget, 1000))
    if not ids then return end
    local jobs = {}
    for _, id in ipairs(ids) do
      if id == MARKER then
        rcall('HDEL', K_META, 'mk')
      elseif is_token(id) then -- its group was drained first: the token goes
        local gs = gstate(string.sub(id, 2))
        gx(1)
        gs.t = 0
        gsync(gs)
      else
        jobs[#jobs + 1] = id
      end
      budget = budget - 1
    end
    forget(jobs)
    delete_jobs(jobs)
    removed = removed + #jobs
  end
end
-- drain_groups empties the groups' lines first, so the tokens drain_list
-- meets belong to empty groups.
local function drain_groups()
  local cursor = '0'
  repeat
    local r = rcall('HSCAN', K_META, cursor, 'MATCH', 'Gs:*', 'COUNT', 1000)
    cursor = r[1]
    for i = 1, #r[2], 2 do
      if budget <= 0 then return end
      local gs = gstate(string.sub(r[2][i], 4))
      local ids = {}
      while gs.h and budget > 0 do
        ids[#ids + 1] = gpop(gs)
        budget = budget - 1
      end
      gsync(gs)
      forget(ids)
      delete_jobs(ids)
      removed = removed + #ids
    end
  until cursor == '0'
end
local function drain_zset(key)
  while budget > 0 do
    local ids = rcall('ZRANGE', key, 0, math.min(budget, 1000) - 1)
    if #ids == 0 then return end
    if key == K_DELAYED then -- a retry keeps its group's slot: it gives it back
      for _, id in ipairs(ids) do
        if is_token(id) then
          rcall('HINCRBY', K_META, 'Gd', '-1')
          removed = removed - 1 -- no job
        else
          local rec, st = load(id)
          if rec and st.g then group_leave(id, st) end
        end
      end
    end
    rcall('ZREM', key, unpack(ids))
    forget(ids)
    delete_jobs(ids)
    removed = removed + #ids
    budget = budget - #ids
  end
end
-- drain_parents removes the flow parents waiting for children (their
-- entries in the dedup zset), each as remove.lua does, and returns how
-- many. A parent whose last pending child was another drained parent
-- becomes ready meanwhile: the caller drains the lists again.
local function drain_parents()
  local n = 0
  while budget > 0 do
    local members = rcall('ZRANGEBYSCORE', K_DEDUP, FLOW_BASE, '+inf', 'LIMIT', 0, math.min(budget, 100))
    if #members == 0 then break end
    flows_init()
    for _, m in ipairs(members) do
      local id = string.sub(m, 2)
      local rec, st = load(id)
      if rec and st.s == 'K' then remove_job(id, st) else rcall('ZREM', K_DEDUP, m) end
      n, removed, budget = n + 1, removed + 1, budget - 1
    end
  end
  return n
end
local function drain_ready()
  drain_groups()
  if budget > 0 then drain_list(K_WAIT) end
  if budget > 0 then drain_list(K_PAUSED) end
  drain_zset(K_PRIO)
end
drain_ready()
if ARGV[3] == '1' then drain_zset(K_DELAYED) end
while budget > 0 and drain_parents() > 0 do drain_ready() end
local more = 0
if budget <= 0 then more = 1 end
return {removed, more}
