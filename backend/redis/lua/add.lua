-- add.lua: adds one or more jobs; each job is added atomically.
-- ARGV[3]  number of jobs n, then 7 values per job:
--          id ('' = generate), priority, lifo (0|1; for a grouped job 2|3 followed
--          by the group), delay ms, dedup id ('' = none),
--          dedup ttl ms, body ("<name len>:<opts len>:<name><opts><data>")
-- Reply:   per job {status, id, state, added_ms}; status 0 created, 1 exists
--          (state and added_ms of the existing job), 2 deduplicated (id of the
--          job that used the dedup id), 3 the group is full (nothing stored)
-- add1.lua is the same for one job without delay, dedup id or group.
local out = {}
local swept = false
local DEDUP_FIELD = {'d:'}
for i = 0, num(ARGV[3]) - 1 do
  local b = 4 + i * 7
  local id, prio_s, lifo, delay = ARGV[b], ARGV[b + 1], ARGV[b + 2], num(ARGV[b + 3])
  local grp
  if #lifo > 1 then
    grp = string.sub(lifo, 2)
    lifo = string.byte(lifo) == 51 -- '3'
  else
    lifo = lifo == '1'
  end
  local did, body = ARGV[b + 4], ARGV[b + 6]
  local prio = num(prio_s)
  local rec, st
  if id ~= '' then rec, st = load(id) end
  if rec then
    local _, _, added = header(rec)
    out[#out + 1] = {1, id, visible_state(st.s), added}
  else
    local dup
    if did ~= '' then
      if not swept then
        local old = rcall('ZRANGEBYSCORE', K_DEDUP, '-inf', NOW, 'LIMIT', 0, 100)
        if #old > 0 then
          hdel_fields(old, DEDUP_FIELD)
          rcall('ZREM', K_DEDUP, unpack(old))
        end
        swept = true
      end
      local exp = rcall('ZSCORE', K_DEDUP, did)
      if exp and tonumber(exp) > NOW then dup = rcall('HGET', jk(did), 'd:' .. did) or '' end
    end
    if dup then
      out[#out + 1] = {2, dup, '', 0}
    elseif grp and group_full(grp) then
      out[#out + 1] = {3, '', '', 0}
    else
      local l = '0'
      if lifo then l = '1' end
      id = new_job(id, prio_s, l, body)
      if did ~= '' then
        rcall('ZADD', K_DEDUP, int(NOW + tonumber(ARGV[b + 5])), did)
        rcall('HSET', jk(did), 'd:' .. did, id)
      end
      local s
      if delay > 0 then
        st = decode_state(nil, nil)
        if grp then rcall('HSET', jk(id), 'g:' .. id, grp) end
        delay_job(id, st, NOW + delay)
        emit('delayed', id, int(NOW + delay))
        s = 'D'
      else
        if grp then
          group_add(id, grp, lifo)
        else
          push_ready(id, prio, lifo, false, nil) -- a fresh job keeps no state entry
        end
        emit('added', id)
        s = 'W'
        if prio > 0 then s = 'P' end
      end
      out[#out + 1] = {0, id, visible_state(s), NOW}
    end
  end
end
return out
