-- counts.lua: the number of jobs in each state.
-- Reply: {waiting, prioritized, paused, delayed, active, completed, failed,
--   waiting-children (flow parents: lib_flows.lua)}
-- mk: the marker in the ready list, which meta mk alone cannot tell (see
-- meta_mk). Claims take from the right, where a marker mostly sits.
local mk = 0
local list = K_WAIT
if is_paused() then list = K_PAUSED end
if meta_mk() and rcall('LPOS', list, MARKER, 'RANK', -1) then mk = 1 end
local fed = 0
if fed_in_wait() then fed = 1 end
-- Group tokens are no jobs; the jobs waiting in groups are (meta Gx: groups.lua).
local gv = rcall('HMGET', K_META, 'Gx', 'Gd')
local grouped = tonumber(gv[1] or '0')
local waiting, paused = 0, 0
if is_paused() then
  paused = rcall('LLEN', K_PAUSED) - mk + grouped
else
  waiting = rcall('LLEN', K_WAIT) - mk - fed + grouped
end
local active = rcall('LLEN', K_ACTIVE)
if active > 0 and rcall('LPOS', K_ACTIVE, MARKER) then active = active - 1 end
return {waiting, rcall('ZCARD', K_PRIO) + fed, paused, rcall('ZCARD', K_DELAYED) - tonumber(gv[2] or '0'), active,
  rcall('ZCARD', K_COMPLETED), rcall('ZCARD', K_FAILED), rcall('ZCOUNT', K_DEDUP, int(FLOW_BASE), '+inf')}
