-- groups.lua: job groups (JobOptions.Group), appended to lib.lua; lib.lua
-- declares the functions assigned here. See docs/groups.md.
--
-- A group lives in the queue's meta hash, so no script touches a key it
-- was not given (Cluster, Upstash key locking):
--   Gs:<g>  "<waiting> <slots used> <token out 0|1> <limited until ms, 0 none> <paused 0|1>",
--           then, while the group has waiting jobs, "\n<first id>\n<last id>"
--           (ids hold no control character); absent when all is 0
--   Go      the queue's group options "<concurrency> <max size> <rate max> <rate per ms>";
--           absent: "1 0 0 0"
--   Gx      jobs waiting in groups minus tokens in the ready list, and
--   Gd      wake entries in the delayed set (both for counts.lua)
-- A group's line is a singly linked list through the jobs hash: n:<id> is
-- the id after <id>. Only the last id's n: may be stale (a job that left
-- the line keeps it until it is linked again or deleted): the line ends at
-- the last id, whatever its n: says. g:<id> holds a grouped job's group
-- (load, load_full and lock_state read it in the job's own HMGET).
-- A token, TOKEN .. group, stands for a group in the ready list (wait, or
-- paused) while the group has a waiting job, a free slot and no limit: a
-- BLMOVE takes it like a job id, and the claim then takes the group's next
-- job. A claim puts the token back at the far end when the group can run
-- another, so groups are served round-robin. A job holds a slot from its
-- claim until it finishes for good; a retry keeps it, while delayed too,
-- and goes back to the front of the group's line.
-- A rate-limited group (its rate, or a handler's RateLimitedGroup) puts no
-- token out until its limit passes; a wake entry, TOKEN .. group, in the
-- delayed set at that time brings it back through promote_due, so blocked
-- claims wake on time like for a delayed job.
local G_CONC_DEFAULT = 1

-- gx counts a change of meta Gx, written once when the run ends (gx_flush).
local function gx(d) GX_D = GX_D + d end

-- gstate reads a group's state and line ends, and the queue's group options.
local function gstate(g)
  local v = rcall('HMGET', K_META, 'Gs:' .. g, 'Go')
  local gs = {g = g, w = 0, a = 0, t = 0, lu = 0, p = 0, conc = G_CONC_DEFAULT, max = 0, rmax = 0, rper = 0}
  if v[1] then
    local w, a, t, lu, p, ends = string.match(v[1], '^(%d+) (%d+) (%d) (%d+) (%d)(.*)$')
    gs.w, gs.a, gs.t, gs.lu, gs.p = tonumber(w), tonumber(a), tonumber(t), tonumber(lu), tonumber(p)
    if ends ~= '' then gs.h, gs.tl = string.match(ends, '^\n([^\n]*)\n(.*)$') end
  end
  if v[2] then
    local c, m, rm, rp = string.match(v[2], '^(%d+) (%d+) (%d+) (%d+)$')
    gs.conc, gs.max, gs.rmax, gs.rper = tonumber(c), tonumber(m), tonumber(rm), tonumber(rp)
  end
  if gs.lu <= NOW then gs.lu = 0 end
  return gs
end

-- gsync writes a group's state back, first putting its token at the far
-- end of the ready list when the group can run a job and has none out, or,
-- when it is limited, its wake entry in the delayed set.
local function gsync(gs)
  if gs.t == 0 and gs.w > 0 and gs.a < gs.conc and gs.p == 0 then
    if gs.lu > 0 then
      local tok = TOKEN .. gs.g
      if rcall('ZADD', K_DELAYED, int(gs.lu * SEQ_SPAN), tok) == 1 then rcall('HINCRBY', K_META, 'Gd', '1') end
      local m = meta()
      if not m.nd or m.nd < 0 or gs.lu < m.nd then
        set_meta('nd', int(gs.lu))
        m.nd = gs.lu
        WAKE = true
      end
    else
      rcall('LPUSH', ready_list(), TOKEN .. gs.g)
      gx(-1)
      gs.t = 1
    end
  end
  if gs.w == 0 and gs.a == 0 and gs.t == 0 and gs.lu == 0 and gs.p == 0 then
    rcall('HDEL', K_META, 'Gs:' .. gs.g)
  else
    local v = int(gs.w) .. ' ' .. int(gs.a) .. ' ' .. int(gs.t) .. ' ' .. int(gs.lu) .. ' ' .. int(gs.p)
    if gs.h then v = v .. '\n' .. gs.h .. '\n' .. gs.tl end
    rcall('HSET', K_META, 'Gs:' .. gs.g, v)
  end
end

-- glink puts id in its group's line, at the front (consuming end) or the back.
local function glink(gs, id, front)
  if not gs.h then
    gs.h, gs.tl = id, id
  elseif front then
    rcall('HSET', jk(id), 'n:' .. id, gs.h)
    gs.h = id
  else
    rcall('HSET', jk(gs.tl), 'n:' .. gs.tl, id)
    gs.tl = id
  end
  gs.w = gs.w + 1
  gx(1)
end

-- gpop takes the first id out of its group's line and returns it.
local function gpop(gs)
  local id = gs.h
  if id == gs.tl then
    gs.h, gs.tl = nil, nil
  else
    gs.h = rcall('HGET', jk(id), 'n:' .. id)
  end
  gs.w = gs.w - 1
  gx(-1)
  return id
end

-- gunlink takes id out of its group's line, walking from the front to
-- find the id before it (a removal, not a claim: O(position)).
local function gunlink(gs, id)
  if gs.h == id then
    gpop(gs)
    return
  end
  local prev = gs.h
  while prev and prev ~= gs.tl do
    local nx = rcall('HGET', jk(prev), 'n:' .. prev)
    if nx == id then
      if id == gs.tl then
        gs.tl = prev
      else
        rcall('HSET', jk(prev), 'n:' .. prev, rcall('HGET', jk(id), 'n:' .. id))
      end
      gs.w = gs.w - 1
      gx(-1)
      return
    end
    prev = nx
  end
end

-- holds_slot reports whether a grouped job in state st holds a slot of its
-- group: an active job, or a delayed retry (it has started before).
local function holds_slot(st)
  return st.s == 'A' or (st.s == 'D' and st.started ~= '0')
end

-- group_push makes a grouped job ready in its group's line; one that held
-- a slot gives it back and goes to the front, so the group's order holds.
group_push = function(id, st, front)
  local gs = gstate(st.g)
  if holds_slot(st) then
    gs.a = gs.a - 1
    front = true
  end
  glink(gs, id, front)
  gsync(gs)
end

-- group_full reports whether an add to group g must be refused (Go max size).
group_full = function(g)
  local gs = gstate(g)
  return gs.max > 0 and gs.w >= gs.max
end

-- group_add files a fresh job in group g's line.
group_add = function(id, g, lifo)
  rcall('HSET', jk(id), 'g:' .. id, g)
  local gs = gstate(g)
  glink(gs, id, lifo)
  gsync(gs)
end

-- group_leave frees the slot of a job that finished for good, or was
-- removed while holding one, and takes a waiting job out of its line.
group_leave = function(id, st)
  if not st.g then return end
  local gs = gstate(st.g)
  if st.s == 'W' then
    gunlink(gs, id)
  elseif holds_slot(st) then
    gs.a = gs.a - 1
  else
    return
  end
  gsync(gs)
end

-- group_claim finishes the claim of a token a claim took from the ready
-- list (and already took out of active): the group's next job goes to
-- active under the lock, or nil when the group cannot run one now (the
-- token is dropped: the group puts one back when it can), or {2, ms} when
-- the global limiter says wait (the token goes back to the consuming end).
group_claim = function(tok, token, lock_ms, lmax, lper)
  local gs = gstate(string.sub(tok, 2))
  gx(1)
  gs.t = 0
  if gs.w == 0 or gs.a >= gs.conc or gs.lu > 0 or gs.p == 1 then
    gsync(gs)
    return nil
  end
  local wait_ms = limiter_take(lmax, lper, token)
  if wait_ms > 0 then
    rcall('RPUSH', K_WAIT, tok)
    gx(-1)
    gs.t = 1
    gsync(gs)
    return {2, wait_ms}
  end
  local id = gpop(gs)
  gs.a = gs.a + 1
  if gs.rmax > 0 then -- the group's starts are spaced rper/rmax apart
    gs.lu = NOW + math.max(1, math.floor(gs.rper / gs.rmax))
  end
  gsync(gs)
  rcall('LPUSH', K_ACTIVE, id)
  local rec, raw, fields = load_full(id)
  if not rec then -- a line entry without a record: drop it
    rcall('LPOP', K_ACTIVE)
    gs.a = gs.a - 1
    gsync(gs)
    emit('failed', id, 'job record missing')
    return nil
  end
  local reply = activate(id, rec, raw, token, lock_ms, fields)
  feed()
  return reply
end

-- group_token_back returns a token a BLMOVE took to the consuming end of
-- the ready list, untouched.
group_token_back = function(tok)
  rcall('LREM', K_ACTIVE, 1, tok)
  if is_paused() then rcall('RPUSH', K_PAUSED, tok) else rcall('RPUSH', K_WAIT, tok) end
end

-- is_token reports whether a ready-list entry is a group's token.
is_token = function(id)
  return string.byte(id) == 1
end

-- group_limit holds group g back until ms from now (a handler's
-- RateLimitedGroup); a longer limit already set stays.
group_limit = function(g, ms)
  local gs = gstate(g)
  gs.lu = math.max(gs.lu, NOW + ms)
  gsync(gs)
end

-- group_wake handles a group's wake entry that promote_due found due.
group_wake = function(tok)
  rcall('HINCRBY', K_META, 'Gd', '-1')
  gsync(gstate(string.sub(tok, 2)))
end
