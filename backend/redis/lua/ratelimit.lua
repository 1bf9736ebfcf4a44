-- ratelimit.lua: stops claims on the queue until now + ARGV[3] ms (a
-- longer limit already in place stays).
-- Reply: 0
local untilms = NOW + tonumber(ARGV[3])
if untilms > tonumber(rcall('HGET', K_META, 'rl') or '0') then rcall('HSET', K_META, 'rl', int(untilms)) end
return 0
