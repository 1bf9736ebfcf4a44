-- metrics.lua: per-minute finished counts.
-- ARGV[3] points wanted
-- Reply: {now_ms, current minute or -1, its completed, its failed, "<c> <f>" per earlier minute...}
local m = meta()
local out = {NOW, m.cm, m.cc, m.cf}
for _, p in ipairs(rcall('LRANGE', K_METRICS, 0, tonumber(ARGV[3]) - 1)) do out[#out + 1] = p end
return out
