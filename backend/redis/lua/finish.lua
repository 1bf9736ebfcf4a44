-- finish.lua: records the outcomes of several attempts at once (the backend
-- merges concurrent complete and fail calls into one script call), each
-- atomically on its own, each optionally claiming the next job.
-- ARGV[3] number of items n, then 15 values per item:
--   kind ('c' complete | 'f' fail), id, token, return value | reason, stack,
--   stacks kept, retry (0|1), retry delay ms, remove (0|1), keep last,
--   keep for ms, next token ('' = do not claim), next lock ms, limiter max,
--   limiter window ms
-- Reply: per item {-1} lock lost | {-2} no such job | a claim reply
--   ({0, -1} when not claiming)
local out = {}
for i = 0, tonumber(ARGV[3]) - 1 do
  local b = 4 + i * 15
  local id, token = ARGV[b + 1], ARGV[b + 2]
  local remove, keep_last, keep_for = ARGV[b + 8] == '1', tonumber(ARGV[b + 9]), tonumber(ARGV[b + 10])
  local code
  if ARGV[b] == 'c' then
    code = complete_job(id, token, ARGV[b + 3], remove, keep_last, keep_for)
  else
    code = fail_job(id, token, ARGV[b + 3], ARGV[b + 4], tonumber(ARGV[b + 5]), ARGV[b + 6] == '1',
      tonumber(ARGV[b + 7]), remove, keep_last, keep_for)
  end
  if code ~= 0 then
    out[#out + 1] = {code}
  elseif ARGV[b + 11] == '' then
    out[#out + 1] = {0, -1}
  else
    out[#out + 1] = claim_next(ARGV[b + 11], tonumber(ARGV[b + 12]), tonumber(ARGV[b + 13]), tonumber(ARGV[b + 14]))
  end
end
return out
