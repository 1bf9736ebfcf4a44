-- add.lua: adds one or more jobs; each job is added atomically.
-- ARGV[3]  number of jobs n, then 7 values per job:
--          id ('' = generate), priority, lifo (0|1), delay ms, dedup id ('' = none),
--          dedup ttl ms, body ("<name len>:<opts len>:<name><opts><data>")
-- Reply:   per job {status, id, state, added_ms}; status 0 created, 1 exists
--          (state and added_ms of the existing job), 2 deduplicated (id of the
--          job that used the dedup id)
local out = {}
local swept = false
for i = 0, tonumber(ARGV[3]) - 1 do
  local b = 4 + i * 7
  local id, prio, lifo, delay = ARGV[b], tonumber(ARGV[b + 1]), ARGV[b + 2] == '1', tonumber(ARGV[b + 3])
  local did, dttl, body = ARGV[b + 4], tonumber(ARGV[b + 5]), ARGV[b + 6]
  local existing = id ~= '' and rcall('HGET', K_JOBS, id)
  if existing then
    local _, _, added = header(existing)
    out[#out + 1] = {1, id, visible_state(get_state(id).s), added}
  else
    local dup
    if did ~= '' then
      if not swept then
        local old = rcall('ZRANGEBYSCORE', K_DEDUP, '-inf', NOW, 'LIMIT', 0, 100)
        for _, d in ipairs(old) do rcall('HDEL', K_INFO, 'd:' .. d) end
        if #old > 0 then rcall('ZREM', K_DEDUP, unpack(old)) end
        swept = true
      end
      local exp = rcall('ZSCORE', K_DEDUP, did)
      if exp and tonumber(exp) > NOW then dup = rcall('HGET', K_INFO, 'd:' .. did) or '' end
    end
    if dup then
      out[#out + 1] = {2, dup, '', 0}
    else
      while id == '' do
        id = tostring(rcall('HINCRBY', K_META, 'id', 1))
        if rcall('HEXISTS', K_JOBS, id) == 1 then id = '' end
      end
      if did ~= '' then
        rcall('ZADD', K_DEDUP, int(NOW + dttl), did)
        rcall('HSET', K_INFO, 'd:' .. did, id)
      end
      local l = '0'
      if lifo then l = '1' end
      rcall('HSET', K_JOBS, id, int(NOW) .. ':' .. int(prio) .. ':' .. l .. ':' .. body)
      local st = fresh_state('W')
      if delay > 0 then
        delay_job(id, st, NOW + delay)
        emit('delayed', id, int(NOW + delay))
      else
        push_ready(id, prio, lifo, false, st)
        emit('added', id)
      end
      out[#out + 1] = {0, id, visible_state(st.s), NOW}
    end
  end
end
return out
