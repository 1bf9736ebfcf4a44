-- logs.lua: reads a page of a job's log, oldest first.
-- ARGV[3] id, [4] offset, [5] limit (0 = all)
-- Reply: {total, line...} | {-2} no such job
local id, offset, limit = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local v = rcall('HMGET', jk(id), 'j:' .. id, 'l:' .. id)
if not v[1] then return {-2} end
local log = v[2] or ''
local lines, pos = {}, 1
while pos <= #log do
  local len = string.match(log, '^(%d+):', pos)
  local from = pos + #len + 1
  lines[#lines + 1] = string.sub(log, from, from + tonumber(len) - 1)
  pos = from + tonumber(len)
end
local out = {#lines}
local last = #lines
if limit > 0 then last = math.min(last, offset + limit) end
for i = offset + 1, last do out[#out + 1] = lines[i] end
return out
