-- sched_lib.lua: the job scheduler record, shared by sched.lua and
-- sched_read.lua (scripts.go puts it in front of each). Scheduler scripts
-- take one fixed key more than the others, before the job buckets:
-- 15 schedulers  hash  scheduler id -> record
--   "<next tick ms> <iterations> <limit> <priority> <lifo> <spec len>
--    <job id len> <last job id len> <spec><job id><last job id><body>"
-- where job id is the pending tick's job and body its add.lua body.
local K_SCHED = KEYS[15]

local function sched_decode(raw)
  local nx, it, lim, pr, lf, sl, jl, ll, rest = string.match(raw,
    '^(%d+) (%d+) (%d+) (%d+) ([01]) (%d+) (%d+) (%d+) (.*)$')
  if not nx then return nil end
  sl, jl, ll = tonumber(sl), tonumber(jl), tonumber(ll)
  return {next = nx, it = tonumber(it), limit = tonumber(lim), prio = pr, lifo = lf,
    spec = string.sub(rest, 1, sl), jid = string.sub(rest, sl + 1, sl + jl),
    last = string.sub(rest, sl + jl + 1, sl + jl + ll), body = string.sub(rest, sl + jl + ll + 1)}
end

local function sched_encode(r)
  return r.next .. ' ' .. int(r.it) .. ' ' .. int(r.limit) .. ' ' .. r.prio .. ' ' .. r.lifo .. ' ' ..
    int(#r.spec) .. ' ' .. int(#r.jid) .. ' ' .. int(#r.last) .. ' ' .. r.spec .. r.jid .. r.last .. r.body
end
