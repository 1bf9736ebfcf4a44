-- metrics.lua: per-minute finished counts.
-- ARGV[3] points wanted
-- Reply: {now_ms, current minute or -1, its completed, its failed, "<c> <f>" per earlier minute...}
local v = rcall('HMGET', K_META, 'cm', 'cc', 'cf')
local out = {NOW, v[1] or -1, v[2] or 0, v[3] or 0}
for _, p in ipairs(rcall('LRANGE', K_METRICS, 0, tonumber(ARGV[3]) - 1)) do out[#out + 1] = p end
return out
