-- lib_finish.lua: the end of lib.lua (scripts.go loads lib.lua,
-- lib_jobs.lua, lib_claim.lua and lib_finish.lua as one chunk): deleting
-- and retaining finished jobs, the per-minute metrics, done, and
-- completing and failing a job.

-- pick_from_tail returns up to limit ids of list key, from its right end
-- (a claim's consuming end: the oldest jobs of wait, the oldest claims of
-- active) leftwards, for which wanted(id) is true. It reads the list a page
-- at a time and changes nothing, so the caller can act on the ids after.
local function pick_from_tail(key, limit, wanted)
  local picked, len, hi = {}, rcall('LLEN', key), -1
  while #picked < limit and hi >= -len do
    local lo = math.max(hi - 999, -len)
    local ids = rcall('LRANGE', key, lo, hi)
    for i = #ids, 1, -1 do
      if #picked >= limit then break end
      if wanted(ids[i]) then picked[#picked + 1] = ids[i] end
    end
    hi = lo - 1
  end
  return picked
end

-- hdel_fields deletes the fields prefix .. id, for each prefix and id,
-- from the ids' buckets, up to 5000 fields per HDEL.
local function hdel_fields(ids, prefixes)
  local by = {}
  for _, id in ipairs(ids) do
    local k = jk(id)
    local fields = by[k]
    if not fields then
      fields = {}
      by[k] = fields
    end
    for _, p in ipairs(prefixes) do fields[#fields + 1] = p .. id end
  end
  for k, fields in pairs(by) do
    for i = 1, #fields, 5000 do
      rcall('HDEL', k, unpack(fields, i, math.min(i + 4999, #fields)))
    end
  end
end

local JOB_FIELDS = {'j:', 's:', 'r:', 'e:', 't:', 'p:', 'l:', 'g:', 'n:'}
local function delete_jobs(ids)
  if #ids == 0 then return end
  hdel_fields(ids, JOB_FIELDS)
end

-- retain applies keep-for and keep-last to a finished set, at most 1000
-- removals per call.
local function retain(zkey, keep_last, keep_for)
  local budget = 1000
  if keep_for > 0 then
    local old = rcall('ZRANGEBYSCORE', zkey, '-inf', int((NOW - keep_for) * SEQ_SPAN + SEQ_SPAN - 1), 'LIMIT', 0, budget)
    if #old > 0 then
      rcall('ZREM', zkey, unpack(old))
      delete_jobs(old)
      budget = budget - #old
    end
  end
  if keep_last > 0 and budget > 0 then
    local extra = rcall('ZCARD', zkey) - keep_last
    if extra > 0 then
      local old = rcall('ZPOPMIN', zkey, math.min(extra, budget))
      local ids = {}
      for i = 1, #old, 2 do ids[#ids + 1] = old[i] end
      delete_jobs(ids)
    end
  end
end

-- metrics_add counts a finished job; metrics_flush writes the counts, and
-- the finish sequence, once per run.
local function metrics_add(failed)
  if failed then DONE_F = DONE_F + 1 else DONE_C = DONE_C + 1 end
end

local MINUTE, MINUTE_S -- the last minute rendered; kept as long as the function library

local function metrics_flush()
  local c, f = DONE_C, DONE_F
  if FQ_SET then rcall('HSET', K_META, 'fq', small(FQ)) end
  if c + f == 0 then return end
  DONE_C, DONE_F = 0, 0
  local m = meta()
  local minute = math.floor(NOW / 60000)
  if minute ~= MINUTE then MINUTE, MINUTE_S = minute, int(minute) end
  if m.cm == MINUTE_S then -- the common case: count into the current minute
    if c > 0 then rcall('HINCRBY', K_META, 'cc', small(c)) end
    if f > 0 then rcall('HINCRBY', K_META, 'cf', small(f)) end
    return
  end
  if m.cm then -- a new minute: the finished one goes to the list
    local v = rcall('HMGET', K_META, 'cc', 'cf')
    local keep = tonumber(METRICS_MAX)
    rcall('LPUSH', K_METRICS, (v[1] or '0') .. ' ' .. (v[2] or '0'))
    for _ = 2, math.min(minute - tonumber(m.cm), keep) do rcall('LPUSH', K_METRICS, '0 0') end
    rcall('LTRIM', K_METRICS, 0, int(keep - 2))
  end
  rcall('HSET', K_META, 'cm', MINUTE_S, 'cc', small(c), 'cf', small(f))
  m.cm = MINUTE_S
end

-- RETAIN holds the retention rules met in this script run, applied once
-- at its end by done: a batch of finishes trims its sets once.

-- finish counts a finished job in the metrics and files it in its set, or
-- deletes it, per retention; first as in delete_job.
local function finish(id, st, zkey, remove, keep_last, keep_for, first)
  metrics_add(zkey == K_FAILED)
  if remove then
    delete_job(id, first)
    return
  end
  st.ft, st.le, st.tok = NOW_S, '0', '-'
  put_state(id, st)
  rcall('ZADD', zkey, order_score(), id)
  if keep_last > 0 or keep_for > 0 then
    RETAIN = RETAIN or {}
    for _, r in ipairs(RETAIN) do
      if r[1] == zkey and r[2] == keep_last and r[3] == keep_for then return end
    end
    RETAIN[#RETAIN + 1] = {zkey, keep_last, keep_for}
  end
end

-- done ends every run (scripts.go calls it after each script's body): the
-- retention rules finish recorded, the metrics counts and the events, once
-- each.
local function done()
  if WAKE then
    WAKE = false
    wake_for_delayed()
  end
  if RETAIN then
    for _, r in ipairs(RETAIN) do retain(r[1], r[2], r[3]) end
    RETAIN = nil
  end
  metrics_flush()
  if GX_D ~= 0 then
    rcall('HINCRBY', K_META, 'Gx', int(GX_D))
    GX_D = 0
  end
  write_events()
end

-- leave_active takes a finished job's id out of active, from the tail,
-- where the oldest claims sit. finish.lua calls it after the item's next
-- claim: at concurrency 1 the list would otherwise empty, and Redis
-- deletes an empty list and makes it again on the next push. A job retried
-- at once and claimed again in between has its new entry at the head, so
-- the search from the tail finds the old one first.
local function leave_active(id)
  rcall('LREM', K_ACTIVE, '-1', id)
end

-- complete_job records a completion of an active job held by token; the
-- caller takes it out of active (leave_active). It returns 0, or -1 (lock
-- lost) / -2 (no such job).
local function complete_job(id, token, rv, remove, keep_last, keep_for)
  local st, code = lock_state(id, token)
  if not st then return code end
  local first = st.made == '0'
  if st.g then group_leave(id, st) end
  st.s, st.made = 'C', succ(st.made)
  if rv ~= '' and not remove then rcall('HSET', jk(id), 'r:' .. id, rv) end
  emit('completed', id, rv)
  if st.fpar then flow_child_done(id, st, true, rv) end
  finish(id, st, K_COMPLETED, remove, keep_last, keep_for, first)
  return 0
end

-- fail_job records a failed attempt of an active job held by token: a retry
-- (delayed by delay ms, or ready now) or a final failure; the caller takes
-- it out of active (leave_active). It returns 0, -1 or -2 like complete_job.
local function fail_job(id, token, reason, stack, keep_stacks, retry, delay, remove, keep_last, keep_for)
  local rec, st = check_lock(id, token)
  if not rec then return st end
  st.made = succ(st.made)
  if stack ~= '' then
    local raw = rcall('HGET', jk(id), 't:' .. id)
    local stacks = {}
    if raw then
      local ok, decoded = pcall(cjson.decode, raw)
      if ok and type(decoded) == 'table' then stacks = decoded end
    end
    stacks[#stacks + 1] = stack
    while #stacks > keep_stacks do table.remove(stacks, 1) end
    rcall('HSET', jk(id), 'e:' .. id, reason, 't:' .. id, cjson.encode(stacks))
  else
    rcall('HSET', jk(id), 'e:' .. id, reason)
  end
  if retry then
    if delay > 0 then
      delay_job(id, st, NOW + delay)
    else
      promote_due(1000) -- jobs due before this retry queue ahead of it
      local prio, lifo = header(rec)
      push_ready(id, prio, lifo, false, st)
    end
    emit('retried', id, reason)
  else
    if st.g then group_leave(id, st) end
    st.s = 'F'
    emit('failed', id, reason)
    if st.fpar then flow_child_done(id, st, false, reason) end
    finish(id, st, K_FAILED, remove, keep_last, keep_for)
  end
  return 0
end
