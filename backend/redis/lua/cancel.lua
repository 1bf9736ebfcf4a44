-- cancel.lua: fails a job that has not finished, at once and without retry,
-- with the reason 'cancelled'. An active job leaves active and its lock is
-- revoked: its failed state keeps the revoked token as '^<token>', which
-- cancelled.lua looks for, and it is kept in failed even when its
-- RemoveOnFail says remove (then with the default retention).
-- ARGV[3] id
-- A flow child applies its policy to its parent (lib_flows.lua).
-- Reply: {0, state letter the job was in: W, Z (paused), P, D, K or A}
--   | -2 no such job | {-3, state} finished already
local id = ARGV[3]
local rec, st = load(id)
if not rec then return -2 end
local was = visible_state(st.s)
if st.s == 'C' or st.s == 'F' then return {-3, was} end
local remove, keep_last, keep_for = fail_retention(rec)
local revoked
if st.s == 'W' then
  rcall('LREM', K_WAIT, 1, id)
  rcall('LREM', K_PAUSED, 1, id)
elseif st.s == 'P' then
  if meta().fd == id then
    clear_fed()
    rcall('LREM', K_WAIT, 1, id)
  end
  rcall('ZREM', K_PRIO, id)
elseif st.s == 'D' then
  rcall('ZREM', K_DELAYED, id)
elseif st.s == 'K' then
  rcall('ZREM', K_DEDUP, '\2' .. id)
elseif st.s == 'A' then
  leave_active(id)
  st.made = succ(st.made)
  revoked = '^' .. st.tok
  if remove then remove, keep_last, keep_for = false, DEFAULT_KEEP_FAILED, 0 end
end
st.s = 'F'
rcall('HSET', jk(id), 'e:' .. id, 'cancelled')
emit('failed', id, 'cancelled')
if st.fpar then flow_child_done(id, st, false, 'cancelled') end
finish(id, st, K_FAILED, remove, keep_last, keep_for)
if revoked then
  st.tok = revoked
  put_state(id, st)
end
feed()
return {0, was}
