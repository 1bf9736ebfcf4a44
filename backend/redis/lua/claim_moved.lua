-- claim_moved.lua: finalizes a claim after BLMOVE moved an id from wait to
-- active. The move happened before pause, the rate limits and priority could
-- be checked, so a job that may not run yet goes back to the consuming end of
-- its list untouched. A wake marker is dropped and a normal claim is tried.
-- ARGV[3] the moved id, [4] lock token, [5] lock ms, [6] limiter max, [7] limiter window ms
-- Reply:  as claim.lua
local id, token, lock_ms = ARGV[3], ARGV[4], num(ARGV[5])
local lmax, lper = num(ARGV[6]), num(ARGV[7])
if id == MARKER then
  rcall('LREM', K_ACTIVE, 1, MARKER)
  rcall('HDEL', K_META, 'mk')
  meta().mk = false
  return claim_next(token, lock_ms, lmax, lper)
end
if is_token(id) then
  if is_paused() then
    group_token_back(id)
    return {0, next_due()}
  end
  local rl = rate_limited_for()
  if rl > 0 then
    group_token_back(id)
    return {2, rl}
  end
  rcall('LREM', K_ACTIVE, 1, id)
  local reply = group_claim(id, token, lock_ms, lmax, lper)
  if reply then return reply end
  return claim_next(token, lock_ms, lmax, lper)
end
local rec, raw, fields = load_full(id)
if not rec then
  rcall('LREM', K_ACTIVE, 1, id)
  return claim_next(token, lock_ms, lmax, lper)
end
if is_paused() then
  hand_back(id, rec)
  return {0, next_due()}
end
local rl = rate_limited_for()
if rl > 0 then
  hand_back(id, rec)
  return {2, rl}
end
return take_claimed(id, rec, raw, fields, token, lock_ms, lmax, lper)
