-- events.lua: reads up to ARGV[4] events after the ID ARGV[3], without
-- blocking (transports that block use XREAD BLOCK directly).
-- It marks a reader (lib.lua readers), keeping events recorded.
-- Reply: {id, {field, value, ...}, id, {...}, ...}
mark_readers()
local res = rcall('XREAD', 'COUNT', ARGV[4], 'STREAMS', K_EVENTS, ARGV[3])
local out = {}
if not res then return out end
for _, entry in ipairs(res[1][2]) do
  out[#out + 1] = entry[1]
  out[#out + 1] = entry[2]
end
return out
