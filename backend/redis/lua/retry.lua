-- retry.lua: moves finished jobs back to ready with their attempts reset.
-- ARGV[3] mode: 'id' or 'bulk'; for 'id' ARGV[4] is the job id; for 'bulk'
--     ARGV[4] is the state letter (F or C) and ARGV[5] the most to move, oldest first.
-- Reply: id mode: 0 | -2 no such job | {-3, state} wrong state; bulk mode: number moved
local function retry(id, st)
  rcall('ZREM', K_FAILED, id)
  rcall('ZREM', K_COMPLETED, id)
  rcall('HDEL', K_INFO, 'r:' .. id, 'e:' .. id, 's:' .. id)
  local fresh = fresh_state('W')
  local prio, lifo = header(rcall('HGET', K_JOBS, id))
  push_ready(id, prio, lifo, false, fresh)
  emit('waiting', id)
end
if ARGV[3] == 'id' then
  local id = ARGV[4]
  local st = get_state(id)
  if not st then return -2 end
  if st.s ~= 'F' and st.s ~= 'C' then return {-3, visible_state(st.s)} end
  retry(id, st)
  return 0
end
local zkey = K_FAILED
if ARGV[4] == 'C' then zkey = K_COMPLETED end
local ids = rcall('ZRANGE', zkey, 0, tonumber(ARGV[5]) - 1)
for _, id in ipairs(ids) do retry(id, get_state(id) or fresh_state('W')) end
return #ids
