-- add1.lua: adds one job without delay, dedup id or group, the common
-- add, as add.lua would, for less: it takes the 6 keys it can touch
-- (add.lua 8) and 4 values of its own (add.lua 1 + 7 per job), each
-- argument about 1,100 instructions of Redis' time, and replies flat.
-- ARGV[3] id ('' = generate), ARGV[4] priority, ARGV[5] lifo (0|1),
-- ARGV[6] body ("<name len>:<opts len>:<name><opts><data>")
-- Reply:   {status, id, state, added_ms}: status 0 created, 1 exists (state
--          and added_ms of the existing job)
local id, prio_s, l = ARGV[3], ARGV[4], ARGV[5]
if id ~= '' then
  local rec, st = load(id)
  if rec then
    local _, _, added = header(rec)
    return {1, id, visible_state(st.s), added}
  end
end
id = new_job(id, prio_s, l, ARGV[6])
local prio = num(prio_s)
push_ready(id, prio, l == '1', false, nil) -- a fresh job keeps no state entry
emit('added', id)
if prio > 0 then return {0, id, visible_state('P'), NOW} end
return {0, id, visible_state('W'), NOW}
