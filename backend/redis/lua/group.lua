-- group.lua: a queue's group options and one group's counts (groups.lua).
-- ARGV[3] 'set': ARGV[4] concurrency, [5] max size, [6] rate max, [7] rate per
--           ms; every group that can now run a job gets its token. Reply: 0
--         'limit': ARGV[4] group, [5] ms: hold the group back. Reply: 0
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
if op == 'get' then
  local gs = gstate('')
  return {gs.conc, gs.max, gs.rmax, gs.rper}
end
local gs = gstate(ARGV[4])
local lu = 0
if gs.lu > 0 then lu = gs.lu - NOW end
return {gs.w, gs.a, lu}
