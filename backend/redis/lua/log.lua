-- log.lua: appends a line to a job's log, keeping the newest lines.
-- ARGV[3] id, [4] line, [5] lines kept (0 = all)
-- Reply: lines kept | -2 no such job
local id, keep = ARGV[3], tonumber(ARGV[5])
if rcall('HEXISTS', K_JOBS, id) == 0 then return -2 end
local first, nxt = 0, 0
local ln = rcall('HGET', K_LOGN, id)
if ln then
  local f, n = string.match(ln, '^(%d+) (%d+)$')
  first, nxt = tonumber(f), tonumber(n)
end
rcall('HSET', K_LOGS, int(nxt) .. ':' .. id, ARGV[4])
nxt = nxt + 1
while keep > 0 and nxt - first > keep do
  rcall('HDEL', K_LOGS, int(first) .. ':' .. id)
  first = first + 1
end
rcall('HSET', K_LOGN, id, int(first) .. ' ' .. int(nxt))
return nxt - first
