-- extend.lua: renews the locks of several active jobs.
-- ARGV[3] lock ms, then pairs from [4]: id, token
-- Reply: the ids whose lock the token no longer holds
local lock_ms = tonumber(ARGV[3])
local lost = {}
for i = 4, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local st = lock_state(id, token)
  if st then
    st.le = int(NOW + lock_ms)
    put_state(id, st)
  else
    lost[#lost + 1] = id
  end
end
return lost
