-- complete.lua: an active job held by the token completed; optionally claims
-- the next job in the same step.
-- ARGV[3] id, [4] token, [5] return value (JSON or ''), [6] remove (0|1),
--     [7] keep last, [8] keep for ms, [9] next token ('' = do not claim),
--     [10] next lock ms, [11] limiter max, [12] limiter window ms
-- Reply: {-2} no such job | {-1} lock lost | a claim reply ({0, -1} when not claiming)
local id, token, rv = ARGV[3], ARGV[4], ARGV[5]
local st, code = check_lock(id, token)
if not st then return {code} end
unlock(id)
st.s = 'C'
st.made = st.made + 1
local remove = ARGV[6] == '1'
if rv ~= '' and not remove then rcall('HSET', K_INFO, 'r:' .. id, rv) end
metrics_add(false)
if rv ~= '' then emit('completed', id, rv) else emit('completed', id) end
finish(id, st, K_COMPLETED, remove, tonumber(ARGV[7]), tonumber(ARGV[8]))
if ARGV[9] == '' then return {0, -1} end
return claim_next(ARGV[9], tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]))
