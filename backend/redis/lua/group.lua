-- group.lua: a queue's group options and one group's counts (groups.lua).
-- ARGV[3] 'set': ARGV[4] concurrency, [5] max size, [6] rate max, [7] rate per
--           ms; every group that can now run a job gets its token. Reply: 0
--         'limit': ARGV[4] group, [5] ms: hold the group back. Reply: 0
--         'pause': ARGV[4] group, [5] 1 pause | 0 resume. Reply: 0
--         'list': ARGV[4] limit, [5] HSCAN cursor: one step of a walk over
--           the groups, its most waiting first. Reply {next cursor ('0': the
--           walk ended), group, waiting, slots, limited ms, paused, ...}
--         'jobs': ARGV[4] group, [5] offset, [6] limit. Reply {job reply...}
--         'drain': ARGV[4] group: delete its waiting jobs. Reply: how many
--         'get': Reply {concurrency, max size}
--         'counts': ARGV[4] group. Reply {waiting, slots used}
local op = ARGV[3]
if op == 'set' then
  rcall('HSET', K_META, 'Go', ARGV[4] .. ' ' .. ARGV[5] .. ' ' .. ARGV[6] .. ' ' .. ARGV[7])
  local cursor = '0'
  repeat
    local r = rcall('HSCAN', K_META, cursor, 'MATCH', 'Gs:*', 'COUNT', 1000)
    cursor = r[1]
    for i = 1, #r[2], 2 do
      local gs = gstate(string.sub(r[2][i], 4))
      gsync(gs)
    end
  until cursor == '0'
  return 0
end
if op == 'limit' then
  group_limit(ARGV[4], tonumber(ARGV[5]))
  return 0
end
if op == 'pause' then
  local gs = gstate(ARGV[4])
  gs.p = tonumber(ARGV[5])
  gsync(gs)
  return 0
end
if op == 'list' then
  -- One HSCAN step per call, so a queue with many groups never holds
  -- Redis for the whole walk: the backend merges the steps' tops.
  local r = rcall('HSCAN', K_META, ARGV[5], 'MATCH', 'Gs:*', 'COUNT', 500)
  local all = {}
  for i = 1, #r[2], 2 do
    local w, a, _, lu, p = string.match(r[2][i + 1], '^(%d+) (%d+) (%d) (%d+) (%d)')
    if w then
      all[#all + 1] = {g = string.sub(r[2][i], 4), w = tonumber(w), a = tonumber(a), lu = tonumber(lu), p = tonumber(p)}
    end
  end
  table.sort(all, function(x, y)
    if x.w ~= y.w then return x.w > y.w end
    return x.g < y.g
  end)
  local out = {r[1]}
  for i = 1, math.min(#all, tonumber(ARGV[4])) do
    local gs, lu = all[i], 0
    if gs.lu > NOW then lu = gs.lu - NOW end
    out[#out + 1] = gs.g
    out[#out + 1] = gs.w
    out[#out + 1] = gs.a
    out[#out + 1] = lu
    out[#out + 1] = gs.p
  end
  return out
end
if op == 'jobs' then
  local gs = gstate(ARGV[4])
  local offset, limit = tonumber(ARGV[5]), tonumber(ARGV[6])
  local out, id, i = {}, gs.h, 0
  while id and #out < limit do
    if i >= offset then
      local rec, st = load(id)
      if rec then out[#out + 1] = job_reply(id, rec, st) end
    end
    i = i + 1
    if id == gs.tl then break end
    id = rcall('HGET', jk(id), 'n:' .. id)
  end
  return out
end
if op == 'drain' then
  -- A drained flow child's parent stops waiting for it, as remove.lua
  -- does; told after the group is written back, since a parent it
  -- releases may join this group's line. A queue without parents waiting
  -- for children (the dedup zset) has no pending child and pays nothing.
  local gs, n, gone = gstate(ARGV[4]), 0, {}
  local flows = parents_waiting()
  while gs.h do
    local id = gpop(gs)
    if flows then
      local rec, st = load(id)
      if rec and st.fpar then gone[#gone + 1] = st end
    end
    delete_job(id)
    emit('removed', id)
    n = n + 1
  end
  gsync(gs)
  for _, st in ipairs(gone) do flow_forget(st) end
  return n
end
if op == 'get' then
  local gs = gstate('')
  return {gs.conc, gs.max, gs.rmax, gs.rper}
end
local gs = gstate(ARGV[4])
local lu = 0
if gs.lu > 0 then lu = gs.lu - NOW end
return {gs.w, gs.a, lu, gs.p}
