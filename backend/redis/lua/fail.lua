-- fail.lua: an active job's attempt failed: retry (delayed, or ready now) or
-- fail for good; optionally claims the next job in the same step.
-- ARGV[3] id, [4] token, [5] reason, [6] stack ('' = none), [7] stacks kept,
--     [8] retry (0|1), [9] retry delay ms, [10] remove, [11] keep last, [12] keep for ms,
--     [13] next token ('' = do not claim), [14] next lock ms, [15] limiter max, [16] limiter window ms
-- Reply: as complete.lua
local id, token, reason, stack = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local st, code = check_lock(id, token)
if not st then return {code} end
unlock(id)
st.made = st.made + 1
rcall('HSET', K_INFO, 'e:' .. id, reason)
if stack ~= '' then
  local raw = rcall('HGET', K_INFO, 's:' .. id)
  local stacks = {}
  if raw then
    local ok, decoded = pcall(cjson.decode, raw)
    if ok and type(decoded) == 'table' then stacks = decoded end
  end
  stacks[#stacks + 1] = stack
  local keep = tonumber(ARGV[7])
  while #stacks > keep do table.remove(stacks, 1) end
  rcall('HSET', K_INFO, 's:' .. id, cjson.encode(stacks))
end
if ARGV[8] == '1' then
  local delay = tonumber(ARGV[9])
  if delay > 0 then
    delay_job(id, st, NOW + delay)
  else
    local prio, lifo = header(rcall('HGET', K_JOBS, id))
    push_ready(id, prio, lifo, false, st)
  end
  emit('retried', id, reason)
else
  st.s = 'F'
  metrics_add(true)
  emit('failed', id, reason)
  finish(id, st, K_FAILED, ARGV[10] == '1', tonumber(ARGV[11]), tonumber(ARGV[12]))
end
if ARGV[13] == '' then return {0, -1} end
return claim_next(ARGV[13], tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16]))
