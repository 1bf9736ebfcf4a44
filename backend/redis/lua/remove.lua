-- remove.lua: deletes a job that is not active, with its logs.
-- ARGV[3] id
-- Reply: 0 | -2 no such job | -4 active
local id = ARGV[3]
local rec, st = load(id)
if not rec then return -2 end
if st.s == 'A' then return -4 end
if st.g then group_leave(id, st) end -- out of its group's line, or its slot freed
if st.s == 'W' then
  if not st.g then
    rcall('LREM', K_WAIT, 1, id)
    rcall('LREM', K_PAUSED, 1, id)
  end
elseif st.s == 'P' then
  if meta().fd == id then
    clear_fed()
    rcall('LREM', K_WAIT, 1, id)
  end
  rcall('ZREM', K_PRIO, id)
elseif st.s == 'D' then
  rcall('ZREM', K_DELAYED, id)
elseif st.s == 'C' then
  rcall('ZREM', K_COMPLETED, id)
elseif st.s == 'F' then
  rcall('ZREM', K_FAILED, id)
end
delete_job(id)
feed()
emit('removed', id)
return 0
