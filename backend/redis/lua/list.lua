-- list.lua: a page of the jobs in one state, in run order (W, Z, P, D), in
-- claim order, oldest first (A), or newest first (C, F).
-- ARGV[3] state letter (W waiting, Z paused, P prioritized, D delayed, A active,
--     C completed, F failed), [4] offset, [5] limit
-- Reply: {job reply...} (each as get.lua)
local s, offset, limit = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local paused = is_paused()
local ids = {}
local function from_list(key)
  -- The consuming end is the right: walk from it, skipping markers and the fed job.
  local fd = meta().fd
  local all = rcall('LRANGE', key, 0, -1)
  local skipped = 0
  for i = #all, 1, -1 do
    local id = all[i]
    if id ~= MARKER and id ~= fd then
      if skipped < offset then skipped = skipped + 1
      elseif #ids < limit then ids[#ids + 1] = id
      else break end
    end
  end
end
if s == 'W' then
  if not paused then from_list(K_WAIT) end
elseif s == 'Z' then
  if paused then from_list(K_PAUSED) end
elseif s == 'P' then
  local fed = fed_in_wait()
  local off = offset
  if fed then
    if off == 0 then ids[1] = fed else off = off - 1 end
  end
  if limit > #ids then
    for _, id in ipairs(rcall('ZRANGE', K_PRIO, off, off + limit - #ids - 1)) do ids[#ids + 1] = id end
  end
elseif s == 'D' then
  ids = rcall('ZRANGE', K_DELAYED, offset, offset + limit - 1)
elseif s == 'A' then
  from_list(K_ACTIVE) -- claims push on the left: the oldest claim is at the right
elseif s == 'C' then
  ids = rcall('ZREVRANGE', K_COMPLETED, offset, offset + limit - 1)
elseif s == 'F' then
  ids = rcall('ZREVRANGE', K_FAILED, offset, offset + limit - 1)
end
local out = {}
for _, id in ipairs(ids) do
  local rec, st = load(id)
  if rec then
    if s == 'Z' or s == 'P' then st.s = s end
    out[#out + 1] = job_reply(id, rec, st)
  end
end
return out
