-- list.lua: a page of the jobs in one state, in run order (W, Z, P, D), in
-- claim order, oldest first (A), or newest first (C, F).
-- ARGV[3] state letter (W waiting, Z paused, P prioritized, D delayed, A active,
--     C completed, F failed, K waiting-children, oldest first), [4] offset, [5] limit
-- Reply: {job reply...} (each as get.lua)
local s, offset, limit = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local paused = is_paused()
local ids = {}
-- from_list pages a list from its consuming end, the right, skipping wake
-- markers and the fed job. Those are few: their positions are looked up
-- (LPOS, from the right, in C) and only the page's window is read, so a
-- deep offset costs one seek, not a Lua table of the whole list.
-- markers: whether a marker may sit in the list.
local function from_list(key, markers)
  local len = rcall('LLEN', key)
  local skips = {} -- positions counted from the right, 0 = the rightmost
  if markers then
    for _, i in ipairs(rcall('LPOS', key, MARKER, 'RANK', -1, 'COUNT', 0)) do skips[#skips + 1] = len - 1 - i end
  end
  local fd = meta().fd
  if fd then
    local i = rcall('LPOS', key, fd, 'RANK', -1)
    if i then skips[#skips + 1] = len - 1 - i end
  end
  -- p: the position of the offset-th entry that is not skipped, or before
  -- it when skipped entries sit at p.
  local p = offset
  while true do
    local c = 0
    for _, r in ipairs(skips) do if r < p then c = c + 1 end end
    if p == offset + c then break end
    p = offset + c
  end
  local window = rcall('LRANGE', key, -(p + limit + #skips), -(p + 1))
  for i = #window, 1, -1 do
    local id = window[i]
    if id ~= MARKER and id ~= fd and not is_token(id) then
      if #ids < limit then ids[#ids + 1] = id else break end
    end
  end
end
if s == 'W' then
  if not paused then from_list(K_WAIT, meta_mk()) end
elseif s == 'Z' then
  if paused then from_list(K_PAUSED, meta_mk()) end
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
  for _, id in ipairs(rcall('ZRANGE', K_DELAYED, offset, offset + limit - 1)) do
    if not is_token(id) then ids[#ids + 1] = id end -- a group's wake entry is no job
  end
elseif s == 'A' then
  from_list(K_ACTIVE, true) -- claims push on the left: the oldest claim is at the right
elseif s == 'K' then
  for _, m in ipairs(rcall('ZRANGEBYSCORE', K_DEDUP, int(FLOW_BASE), '+inf', 'LIMIT', offset, limit)) do
    ids[#ids + 1] = string.sub(m, 2)
  end
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
