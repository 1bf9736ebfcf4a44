-- ratelimit.lua: stops claims on the queue until now + ARGV[3] ms (a
-- longer limit already in place stays).
-- Reply: 0
local untilms = NOW + tonumber(ARGV[3])
if untilms > meta().rl then set_meta('rl', int(untilms)) end
return 0
