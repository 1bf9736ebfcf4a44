-- unclaim.lua: hands back an id that a BLMOVE moved to active for a claim
-- that was cancelled before it could be finalized: the job returns to the
-- consuming end of its list untouched (a wake marker is simply dropped).
-- ARGV[3] the moved id
-- Reply: 0
local id = ARGV[3]
if id == MARKER then
  rcall('LREM', K_ACTIVE, 1, MARKER)
  rcall('HDEL', K_META, 'mk')
  return 0
end
if is_token(id) then
  group_token_back(id)
  return 0
end
local rec, st = load(id)
if rec and st.s ~= 'A' then hand_back(id, rec) end
return 0
