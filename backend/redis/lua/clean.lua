-- clean.lua: removes up to ARGV[5] jobs in one state older than ARGV[4] ms
-- (by finish time for C and F, by add time otherwise).
-- ARGV[3] state letter (W, Z, P, D, C, F), [4] age ms, [5] limit for this call
-- Reply: the removed ids
local s, age, limit = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local cut = NOW - age
local removed = {}
-- forget tells a flow child's parent that the child is gone, as
-- remove.lua does; a queue without parents waiting for children (none in
-- the dedup zset) has no pending child, and pays nothing.
local FLOWS = s ~= 'C' and s ~= 'F' and parents_waiting()
local function forget(id)
  if not FLOWS then return end
  local rec, st = load(id)
  if rec and st.fpar then flows_init(); flow_forget(st) end
end
local function old_enough(id)
  local rec = rcall('HGET', jk(id), 'j:' .. id)
  if not rec then return true end
  local _, _, added = header(rec)
  return age <= 0 or added <= cut
end
if s == 'C' or s == 'F' then
  local zkey = K_COMPLETED
  if s == 'F' then zkey = K_FAILED end
  local hi = '+inf'
  if age > 0 then hi = int(cut * SEQ_SPAN + SEQ_SPAN - 1) end
  removed = rcall('ZRANGEBYSCORE', zkey, '-inf', hi, 'LIMIT', 0, limit)
  if #removed > 0 then rcall('ZREM', zkey, unpack(removed)) end
  delete_jobs(removed)
  return removed
end
if s == 'P' or s == 'D' then
  local zkey = K_PRIO
  if s == 'D' then zkey = K_DELAYED end
  if s == 'P' then
    local fed = fed_in_wait()
    if fed and old_enough(fed) then
      clear_fed()
      rcall('LREM', K_WAIT, 1, fed)
      forget(fed)
      delete_job(fed)
      removed[#removed + 1] = fed
    end
  end
  local start = 0
  while #removed < limit do
    local ids = rcall('ZRANGE', zkey, start, start + 999)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      if #removed >= limit then break end
      if not is_token(id) and old_enough(id) then -- a group's wake entry is no job
        if s == 'D' then
          local rec, st = load(id)
          if rec then group_leave(id, st) end -- a retry keeps its group's slot
        end
        rcall('ZREM', zkey, id)
        forget(id)
        delete_job(id)
        removed[#removed + 1] = id
      else
        start = start + 1
      end
    end
  end
  feed()
  return removed
end
local key = K_WAIT
if s == 'Z' then key = K_PAUSED end
if (s == 'Z') ~= is_paused() then return removed end
-- Oldest first: from the consuming end, chosen before any is removed.
local fd = meta().fd
removed = pick_from_tail(key, limit, function(id) return id ~= MARKER and id ~= fd and not is_token(id) and old_enough(id) end)
for _, id in ipairs(removed) do
  rcall('LREM', key, -1, id)
  forget(id)
  delete_job(id)
end
feed()
return removed
