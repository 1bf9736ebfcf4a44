-- finish.lua: records the outcomes of several attempts at once (the backend
-- merges concurrent complete and fail calls into one script call), each
-- atomically on its own, each optionally claiming the next job.
-- ARGV[3] number of items n, then per item:
--   'c' (complete), id, token, return value
--   | 'f' (fail), id, token, reason, stack, stacks kept, retry (0|1), retry delay ms;
--   then remove (0|1), keep last, keep for ms, next token ('' = do not
--   claim: the item ends here), next lock ms, limiter max, limiter window ms
-- Reply: per item {-1} lock lost | {-2} no such job | a claim reply
--   ({0, -1} when not claiming)
local out = {}
local b = 4 -- the item's first value
for i = 1, num(ARGV[3]) do
  local id, token, value = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local r, code -- r: the item's retention values
  if ARGV[b] == 'c' then
    r = b + 4
    code = complete_job(id, token, value, ARGV[r] == '1', num(ARGV[r + 1]), num(ARGV[r + 2]))
  else
    r = b + 8
    code = fail_job(id, token, value, ARGV[b + 4], num(ARGV[b + 5]), ARGV[b + 6] == '1', num(ARGV[b + 7]),
      ARGV[r] == '1', num(ARGV[r + 1]), num(ARGV[r + 2]))
  end
  local next_token = ARGV[r + 3]
  if code ~= 0 then
    out[i] = {code}
  else
    if next_token == '' then
      out[i] = {0, -1}
    else
      out[i] = claim_next(next_token, num(ARGV[r + 4]), num(ARGV[r + 5]), num(ARGV[r + 6]))
    end
    leave_active(id) -- after the claim: see leave_active
  end
  if next_token == '' then b = r + 4 else b = r + 7 end
end
return out
