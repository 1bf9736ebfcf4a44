-- log.lua: appends a line to a job's log, keeping the newest lines. The log
-- is one field of "<length>:<line>" entries, so deleting a job deletes it.
-- ARGV[3] id, [4] line, [5] lines kept (0 = all)
-- Reply: lines kept | -2 no such job
local id, line, keep = ARGV[3], ARGV[4], tonumber(ARGV[5])
if rcall('HEXISTS', jk(id), 'j:' .. id) == 0 then return -2 end
local log = (rcall('HGET', jk(id), 'l:' .. id) or '') .. #line .. ':' .. line
local starts, pos = {}, 1
while pos <= #log do
  local len = string.match(log, '^(%d+):', pos)
  starts[#starts + 1] = pos
  pos = pos + #len + 1 + tonumber(len)
end
if keep > 0 and #starts > keep then
  log = string.sub(log, starts[#starts - keep + 1])
  rcall('HSET', jk(id), 'l:' .. id, log)
  return keep
end
rcall('HSET', jk(id), 'l:' .. id, log)
return #starts
