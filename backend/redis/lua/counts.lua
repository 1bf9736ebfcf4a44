-- counts.lua: the number of jobs in each state.
-- Reply: {waiting, prioritized, paused, delayed, active, completed, failed}
local mk = 0
if meta_mk() then mk = 1 end
local fed = 0
if fed_in_wait() then fed = 1 end
local waiting, paused = 0, 0
if is_paused() then
  paused = rcall('LLEN', K_PAUSED) - mk
else
  waiting = rcall('LLEN', K_WAIT) - mk - fed
end
local active = rcall('LLEN', K_ACTIVE)
if active > 0 and rcall('LPOS', K_ACTIVE, MARKER) then active = active - 1 end
return {waiting, rcall('ZCARD', K_PRIO) + fed, paused, rcall('ZCARD', K_DELAYED), active,
  rcall('ZCARD', K_COMPLETED), rcall('ZCARD', K_FAILED)}
