-- cancelled.lua: tells which of several locks cancel.lua revoked.
-- ARGV[3..] pairs: id, token
-- Reply: the ids whose job was cancelled while that token held its lock
local out = {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local raw = rcall('HGET', jk(id), 's:' .. id)
  if raw and decode_state(raw).tok == '^' .. ARGV[i + 1] then out[#out + 1] = id end
end
return out
