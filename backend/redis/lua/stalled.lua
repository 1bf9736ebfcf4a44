-- stalled.lua: two-phase stalled-job recovery. Jobs marked by the previous
-- check and still without a live lock go back to waiting (or fail past the
-- allowed count); then active jobs without a live lock are marked. A job
-- moved by BLMOVE a moment ago and not yet locked is only marked, never stolen.
-- ARGV[3] max stalled count, [4] interval ms (at most one check per interval
--     across processes), [5] max jobs examined
-- Reply: {-1} skipped | {0, {requeued ids}, {failed ids}}
local max_stalled, interval, max_jobs = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local guard = tonumber(rcall('HGET', K_META, 'sg') or '0')
if interval > 0 and guard > NOW then return {-1} end
rcall('HSET', K_META, 'sg', int(NOW + interval))

-- unlocked reports whether an id in active has no live lock.
local function unlocked(id)
  if id == MARKER then return true end
  local rec, st = load(id)
  return rec == nil or st.s ~= 'A' or tonumber(st.le) <= NOW
end

local requeued, failed = {}, {}
local marked = rcall('SMEMBERS', K_STALLED)
rcall('DEL', K_STALLED)
for _, id in ipairs(marked) do
  if unlocked(id) and rcall('LREM', K_ACTIVE, 1, id) == 1 then
    local rec, st = nil, nil
    if id ~= MARKER and not is_token(id) then rec, st = load(id) end
    if id == MARKER then
      rcall('HDEL', K_META, 'mk')
    elseif is_token(id) then -- a claim took it and died before finishing: it goes back
      if is_paused() then rcall('RPUSH', K_PAUSED, id) else rcall('RPUSH', K_WAIT, id) end
    elseif rec then
      st.stalled = int(st.stalled + 1)
      if tonumber(st.stalled) > max_stalled then
        if st.g then group_leave(id, st) end
        st.made, st.s = int(st.made + 1), 'F'
        local reason = 'job stalled more than allowable limit (' .. max_stalled .. ')'
        rcall('HSET', jk(id), 'e:' .. id, reason)
        emit('failed', id, reason)
        if st.fpar then flow_child_done(id, st, false, reason) end
        local remove, keep_last, keep_for = fail_retention(rec)
        finish(id, st, K_FAILED, remove, keep_last, keep_for)
        failed[#failed + 1] = id
      else
        local prio, lifo = header(rec)
        push_ready(id, prio, lifo, true, st)
        emit('stalled', id)
        requeued[#requeued + 1] = id
      end
    end
  end
end
-- Mark at most max_jobs unlocked entries, oldest claims (the tail) first,
-- looking through the whole list if need be: a dead worker's job must be
-- found however many live jobs were claimed after it.
local stalled = pick_from_tail(K_ACTIVE, max_jobs, unlocked)
for i = 1, #stalled, 5000 do rcall('SADD', K_STALLED, unpack(stalled, i, math.min(i + 4999, #stalled))) end
return {0, requeued, failed}
