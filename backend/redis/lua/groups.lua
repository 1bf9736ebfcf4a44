-- groups.lua: job groups (JobOptions.Group), appended to lib.lua; lib.lua
-- declares the functions assigned here. See docs/groups.md.
--
-- A group lives in the queue's meta hash, so no script touches a key it
-- was not given (Cluster, Upstash key locking):
--   Gs:<g>  "<waiting> <slots used> <token out 0|1> <limited until ms, 0 none>";
--           absent when all are 0 (or the limit has passed)
--   Gh:<g>  the id at the consuming end of the group's line, Gt:<g> the far end
--   Go      the queue's group options "<concurrency> <max size> <rate max> <rate per ms>";
--           absent: "1 0 0 0"
--   Gw      jobs waiting in groups, Gk tokens in the ready list, Gd wake
--           entries in the delayed set (counts.lua)
-- A rate-limited group (its rate, or a handler's RateLimitedGroup) puts no
-- token out until its limit passes; a wake entry, TOKEN .. group, in the
-- delayed set at that time brings it back through promote_due, so blocked
-- claims wake on time like for a delayed job.
-- The group's line is a doubly linked list through the jobs hash: n:<id>
-- the next id towards the far end, v:<id> the previous one. g:<id> holds a
-- grouped job's group (load, load_full and lock_state read it with the
-- job's other fields, in the same command).
-- A token, TOKEN .. group, stands for a group in the ready list (wait, or
-- paused) while the group has a waiting job and a free slot: a BLMOVE takes
-- it like a job id, and the claim then takes the group's next job. A claim
-- that takes a job of a group puts the token back at the far end when the
-- group can run another, so groups are served round-robin. A job holds a
-- slot from its claim until it finishes for good; a retry keeps it, while
-- it is delayed too, and goes back to the front of the group's line.

local G_CONC_DEFAULT = 1

-- gstate reads a group's state, links and the queue's group options.
local function gstate(g)
  local v = rcall('HMGET', K_META, 'Gs:' .. g, 'Gh:' .. g, 'Gt:' .. g, 'Go')
  local gs = {g = g, w = 0, a = 0, t = 0, lu = 0, h = v[2], tl = v[3], conc = G_CONC_DEFAULT, max = 0, rmax = 0, rper = 0}
  if v[1] then
    local w, a, t, lu = string.match(v[1], '^(%d+) (%d+) (%d) (%d+)$')
    gs.w, gs.a, gs.t, gs.lu = tonumber(w), tonumber(a), tonumber(t), tonumber(lu)
  end
  if v[4] then
    local c, m, rm, rp = string.match(v[4], '^(%d+) (%d+) (%d+) (%d+)$')
    gs.conc, gs.max, gs.rmax, gs.rper = tonumber(c), tonumber(m), tonumber(rm), tonumber(rp)
  end
  if gs.lu <= NOW then gs.lu = 0 end
  return gs
end

-- gsync writes a group's state back, first putting its token at the far
-- end of the ready list when the group can run a job and has none out.
local function gsync(gs)
  if gs.lu > 0 and gs.t == 0 and gs.w > 0 and gs.a < gs.conc then -- wake it when the limit passes
    local tok = TOKEN .. gs.g
    if rcall('ZADD', K_DELAYED, int(gs.lu * SEQ_SPAN), tok) == 1 then rcall('HINCRBY', K_META, 'Gd', '1') end
    local m = meta()
    if not m.nd or m.nd < 0 or gs.lu < m.nd then
      set_meta('nd', int(gs.lu))
      m.nd = gs.lu
      WAKE = true
    end
  elseif gs.t == 0 and gs.w > 0 and gs.a < gs.conc then
    local list = K_PAUSED
    if not is_paused() then
      list = K_WAIT
      unfeed()
    end
    rcall('LPUSH', list, TOKEN .. gs.g)
    rcall('HINCRBY', K_META, 'Gk', '1')
    gs.t = 1
  end
  if gs.w == 0 and gs.a == 0 and gs.t == 0 and gs.lu == 0 then
    rcall('HDEL', K_META, 'Gs:' .. gs.g)
  else
    rcall('HSET', K_META, 'Gs:' .. gs.g, int(gs.w) .. ' ' .. int(gs.a) .. ' ' .. int(gs.t) .. ' ' .. int(gs.lu))
  end
end

-- glink puts id in its group's line, at the front (consuming end) or the back.
local function glink(gs, id, front)
  local g = gs.g
  if not gs.h then
    rcall('HSET', K_META, 'Gh:' .. g, id, 'Gt:' .. g, id)
    gs.h, gs.tl = id, id
  elseif front then
    rcall('HSET', jk(id), 'n:' .. id, gs.h)
    rcall('HSET', jk(gs.h), 'v:' .. gs.h, id)
    rcall('HSET', K_META, 'Gh:' .. g, id)
    gs.h = id
  else
    rcall('HSET', jk(gs.tl), 'n:' .. gs.tl, id)
    rcall('HSET', jk(id), 'v:' .. id, gs.tl)
    rcall('HSET', K_META, 'Gt:' .. g, id)
    gs.tl = id
  end
  gs.w = gs.w + 1
  rcall('HINCRBY', K_META, 'Gw', '1')
end

-- gunlink takes id out of its group's line.
local function gunlink(gs, id)
  local g = gs.g
  local v = rcall('HMGET', jk(id), 'n:' .. id, 'v:' .. id)
  local nx, pv = v[1], v[2]
  if nx or pv then rcall('HDEL', jk(id), 'n:' .. id, 'v:' .. id) end
  if pv then
    if nx then rcall('HSET', jk(pv), 'n:' .. pv, nx) else rcall('HDEL', jk(pv), 'n:' .. pv) end
  end
  if nx then
    if pv then rcall('HSET', jk(nx), 'v:' .. nx, pv) else rcall('HDEL', jk(nx), 'v:' .. nx) end
  end
  if gs.h == id then gs.h = nx end
  if gs.tl == id then gs.tl = pv end
  if gs.h then
    rcall('HSET', K_META, 'Gh:' .. g, gs.h, 'Gt:' .. g, gs.tl)
  else
    rcall('HDEL', K_META, 'Gh:' .. g, 'Gt:' .. g)
  end
  gs.w = gs.w - 1
  rcall('HINCRBY', K_META, 'Gw', '-1')
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
  rcall('HINCRBY', K_META, 'Gk', '-1')
  gs.t = 0
  if gs.w == 0 or gs.a >= gs.conc or gs.lu > 0 then
    gsync(gs)
    return nil
  end
  local wait_ms = limiter_take(lmax, lper, token)
  if wait_ms > 0 then
    rcall('RPUSH', K_WAIT, tok)
    rcall('HINCRBY', K_META, 'Gk', '1')
    gs.t = 1
    gsync(gs)
    return {2, wait_ms}
  end
  local id = gs.h
  gunlink(gs, id)
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
