-- extend.lua: renews the locks of several active jobs.
-- ARGV[3] lock ms, then pairs from [4]: id, token
-- Reply: the ids whose lock the token no longer holds
local lock_ms = tonumber(ARGV[3])
local lost = {}
for i = 4, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  if check_lock(id, token) then
    rcall('HSET', K_LOCKS, id, token .. ' ' .. int(NOW + lock_ms))
    rcall('SREM', K_STALLED, id)
  else
    lost[#lost + 1] = id
  end
end
return lost
