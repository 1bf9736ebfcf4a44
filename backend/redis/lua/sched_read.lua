-- sched_read.lua: reads one job scheduler, or all of a queue's (record:
-- sched_lib.lua), with the backend's clock.
-- ARGV[3] id ('' = all)
-- Reply: {now ms, id, record, pending job's state letter ('' = gone), ...}
local out = {NOW_S}
local function put(id, raw)
  local r = sched_decode(raw)
  local s = ''
  if r then
    local rec, st = load(r.jid)
    if rec then s = visible_state(st.s) end
  end
  out[#out + 1], out[#out + 2], out[#out + 3] = id, raw, s
end
if ARGV[3] ~= '' then
  local raw = rcall('HGET', K_SCHED, ARGV[3])
  if raw then put(ARGV[3], raw) end
else
  local all = rcall('HGETALL', K_SCHED)
  for i = 1, #all, 2 do put(all[i], all[i + 1]) end
end
return out
