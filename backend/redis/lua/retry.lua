-- retry.lua: moves finished jobs back to ready with their attempts reset.
-- ARGV[3] mode: 'id' or 'bulk'; for 'id' ARGV[4] is the job id; for 'bulk'
--     ARGV[4] is the state letter (F or C) and ARGV[5] the most to move, oldest first.
-- Reply: id mode: 0 | -2 no such job | {-3, state} wrong state; bulk mode: number moved
local function retry(id, rec)
  rcall('ZREM', K_FAILED, id)
  rcall('ZREM', K_COMPLETED, id)
  rcall('HDEL', jk(id), 'r:' .. id, 'e:' .. id, 't:' .. id)
  local prio, lifo = header(rec)
  local st = decode_state(nil, rec)
  local g = rcall('HGET', jk(id), 'g:' .. id)
  if g then
    if string.byte(g) == 2 then flows_init(); flow_state(st, g) else st.g = g end
  end
  push_ready(id, prio, lifo, false, st)
  emit('waiting', id)
end
if ARGV[3] == 'id' then
  local id = ARGV[4]
  local rec, st = load(id)
  if not rec then return -2 end
  if st.s ~= 'F' and st.s ~= 'C' then return {-3, visible_state(st.s)} end
  retry(id, rec)
  return 0
end
local zkey = K_FAILED
if ARGV[4] == 'C' then zkey = K_COMPLETED end
local ids = rcall('ZRANGE', zkey, 0, tonumber(ARGV[5]) - 1)
local moved = 0
for _, id in ipairs(ids) do
  local rec = rcall('HGET', jk(id), 'j:' .. id)
  if rec then
    retry(id, rec)
    moved = moved + 1
  else
    rcall('ZREM', zkey, id)
  end
end
return moved
