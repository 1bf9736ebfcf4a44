-- logs.lua: reads a page of a job's log, oldest first.
-- ARGV[3] id, [4] offset, [5] limit (0 = all)
-- Reply: {total, line...} | {-2} no such job
local id, offset, limit = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
if rcall('HEXISTS', K_JOBS, id) == 0 then return {-2} end
local ln = rcall('HGET', K_LOGN, id)
if not ln then return {0} end
local f, n = string.match(ln, '^(%d+) (%d+)$')
local first, nxt = tonumber(f), tonumber(n)
local out = {nxt - first}
local from, to = first + offset, nxt - 1
if limit > 0 then to = math.min(to, from + limit - 1) end
if from > to then return out end
local fields = {}
for i = from, to do fields[#fields + 1] = int(i) .. ':' .. id end
for _, line in ipairs(rcall('HMGET', K_LOGS, unpack(fields))) do
  out[#out + 1] = line or ''
end
return out
