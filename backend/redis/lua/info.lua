-- info.lua: a queue's switches.
-- Reply: {paused (0|1), rate limited for ms}
local p = 0
if is_paused() then p = 1 end
return {p, rate_limited_for()}
