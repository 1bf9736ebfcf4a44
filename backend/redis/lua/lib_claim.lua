-- lib_claim.lua: the third part of lib.lua (scripts.go loads lib.lua,
-- lib_jobs.lua, lib_claim.lua and lib_finish.lua as one chunk): delayed
-- jobs and their wake-ups, the global limiter, claims and lock checks.

-- next_due returns ms until the earliest delayed job (-1: none) and
-- refreshes the cached bound.
local function next_due()
  local f = rcall('ZRANGE', K_DELAYED, 0, 0, 'WITHSCORES')
  if #f == 0 then
    set_meta('nd', -1)
    meta().nd = -1
    return -1
  end
  local due = math.floor(tonumber(f[2]) / SEQ_SPAN)
  set_meta('nd', int(due))
  meta().nd = due
  return math.max(0, due - NOW)
end

-- wake_for_delayed pushes a marker when a job just became the earliest
-- delayed one and claims may be blocked on an empty wait list with a longer
-- timeout. A non-empty wait list means no claim is blocked. done calls it
-- at the end of the run (delay_job only sets WAKE): pushed earlier, the
-- marker would be taken by a claim chained in the same run (a fail with a
-- retry delay that claims the next job), and the claims blocked elsewhere,
-- in this process or another, would sleep out their block timeout.
-- A paused queue gets the marker too (its wait list is empty): the claim
-- it wakes learns the due time, and the job moves to paused on time.
local function wake_for_delayed()
  local m = meta()
  if meta_mk() then return end
  if rcall('LLEN', K_WAIT) > 0 then return end
  rcall('RPUSH', K_WAIT, MARKER)
  set_meta('mk', 1)
  m.mk = true
end

local function delay_job(id, st, due)
  local seq = rcall('HINCRBY', K_META, 'pc', '1') % SEQ_SPAN
  rcall('ZADD', K_DELAYED, int(due * SEQ_SPAN + seq), id)
  st.s, st.du, st.le, st.tok = 'D', int(due), '0', '-'
  put_state(id, st)
  local m = meta()
  if not m.nd or m.nd < 0 or due < m.nd then
    set_meta('nd', int(due))
    m.nd = due
    WAKE = true
  end
end

-- promote_due moves up to limit delayed jobs whose time has come to ready;
-- it costs nothing while the cached next due time is in the future.
local function promote_due(limit)
  local m = meta()
  if m.nd and (m.nd < 0 or m.nd > NOW) then return end
  local due = rcall('ZRANGEBYSCORE', K_DELAYED, '-inf', int(NOW * SEQ_SPAN + SEQ_SPAN - 1), 'LIMIT', 0, limit)
  if #due > 0 then
    rcall('ZREM', K_DELAYED, unpack(due))
    for _, id in ipairs(due) do
      local rec, st
      if is_token(id) then group_wake(id) else rec, st = load(id) end
      if rec then
        local prio, lifo = header(rec)
        push_ready(id, prio, lifo, false, st)
      end
    end
  end
  next_due()
end

-- limiter_take records a start and returns 0 when fewer than max starts
-- happened in (NOW-per, NOW]; otherwise the ms until one slot frees. The log
-- is trimmed on every call, so it never holds more than max entries.
local function limiter_take(max, per, member)
  if max <= 0 then return 0 end
  rcall('ZREMRANGEBYSCORE', K_LIMITER, '-inf', NOW - per)
  local n = rcall('ZCARD', K_LIMITER)
  if n >= max then
    local oldest = rcall('ZRANGE', K_LIMITER, n - max, n - max, 'WITHSCORES')
    return math.max(1, tonumber(oldest[2]) + per - NOW)
  end
  rcall('ZADD', K_LIMITER, NOW, member)
  return 0
end

local function rate_limited_for()
  local rl = meta().rl
  if rl > NOW then return rl - NOW end
  return 0
end

-- activate locks a job moved to active and returns its reply; raw and
-- fields are its stored state and reply fields from load_full. A job that
-- has not moved since its add gets its state written out directly: its
-- first start, nothing made, stalled or finished.
local function activate(id, rec, raw, token, lock_ms, fields)
  local le, enc = int(NOW + lock_ms)
  if raw then
    local st = decode_state(raw, rec)
    st.s, st.started, st.pt, st.le, st.tok = 'A', succ(st.started), NOW_S, le, token
    enc = encode_state(st)
  else
    enc = 'A 1 0 0 ' .. NOW_S .. ' 0 0 ' .. le .. ' ' .. token
  end
  rcall('HSET', jk(id), 's:' .. id, enc)
  emit('active', id)
  return job_reply(id, rec, nil, fields, enc) -- an active job's visible state is its own
end

-- take_claimed finishes the claim of a job just moved to active: one the
-- global limiter turns away goes back untouched; otherwise it is locked,
-- and the next prioritized job is fed if wait ran dry.
local function take_claimed(id, rec, raw, fields, token, lock_ms, lmax, lper)
  local wait_ms = limiter_take(lmax, lper, token)
  if wait_ms > 0 then
    hand_back(id, rec)
    return {2, wait_ms}
  end
  if meta().fd == id then clear_fed() end
  local reply = activate(id, rec, raw, token, lock_ms, fields)
  feed()
  return reply
end

-- claim_next moves the next ready job to active under a lock. Replies:
-- a job_reply string when claimed; {0, ms until the next delayed job or -1}; {2, ms} rate limited.
local function claim_next(token, lock_ms, lmax, lper)
  promote_due(1000)
  if is_paused() then return {0, next_due()} end
  local rl = rate_limited_for()
  if rl > 0 then return {2, rl} end
  while true do
    local id = rcall('LMOVE', K_WAIT, K_ACTIVE, 'RIGHT', 'LEFT')
    if not id then return {0, next_due()} end
    if id == MARKER then
      rcall('LPOP', K_ACTIVE)
      rcall('HDEL', K_META, 'mk')
      M.mk = false
    elseif is_token(id) then
      rcall('LPOP', K_ACTIVE)
      local reply = group_claim(id, token, lock_ms, lmax, lper)
      if reply then return reply end
    else
      local rec, raw, fields = load_full(id)
      if not rec then -- a list entry without a record: drop it, try the next
        rcall('LPOP', K_ACTIVE)
        emit('failed', id, 'job record missing')
      else
        return take_claimed(id, rec, raw, fields, token, lock_ms, lmax, lper)
      end
    end
  end
end

-- held reports whether st is an active job whose unexpired lock token is token.
local function held(st, token)
  return st.s == 'A' and st.tok == token and after_now(st.le)
end

-- check_lock returns the record and state of an active job held by token,
-- or nil and -2 (no such job) or -1 (lock lost).
local function check_lock(id, token)
  local rec, st = load(id)
  if not rec then return nil, -2 end
  if not held(st, token) then return nil, -1 end
  return rec, st
end

-- lock_state is check_lock for callers that need only the state: it does
-- not read the job's record (an active job always has a state entry).
local function lock_state(id, token)
  local v = rcall('HMGET', jk(id), 's:' .. id, 'g:' .. id)
  local raw = v[1]
  if not raw then
    if rcall('HEXISTS', jk(id), 'j:' .. id) == 0 then return nil, -2 end
    return nil, -1
  end
  local st = decode_state(raw)
  if not held(st, token) then return nil, -1 end
  if v[2] then
    if string.byte(v[2]) == 2 then flows_init(); flow_state(st, v[2]) else st.g = v[2] end
  end
  return st
end

-- delete_job removes every field of a job (not its list or set membership).
-- first says no attempt of the job has finished before, so it has no
-- result, reason or stacks (retry.lua deletes them with the count).
local function delete_job(id, first)
  if first then
    rcall('HDEL', jk(id), 'j:' .. id, 's:' .. id, 'p:' .. id, 'l:' .. id, 'g:' .. id, 'n:' .. id)
  else
    rcall('HDEL', jk(id), 'j:' .. id, 's:' .. id, 'r:' .. id, 'e:' .. id, 't:' .. id, 'p:' .. id, 'l:' .. id, 'g:' .. id, 'n:' .. id)
  end
end
