-- flow_add.lua: adds a tree of jobs (backend.Flows FlowAdd), or new
-- children of an active job held by a token that then waits for them
-- (FlowWaitChildren), in one step: nodes with children wait in K
-- (waiting-children), leaves are ready or delayed as add.lua adds them.
-- Links and parent data: lib_flows.lua. Nothing is stored on a refusal.
-- ARGV[3] waiting job id ('' = add a tree), [4] its lock token,
--   [5] node count n, then 8 values per node, parents before their children:
--   id ('' = generate), priority, lifo (0|1), group ('' = none), delay ms,
--   parent (1-based node index; 0 = none for a tree's root, the waiting job
--   otherwise), policy towards the parent (- fail, i ignore, r remove),
--   body ("<name len>:<opts len>:<name><opts><data>", as add.lua)
-- Reply: per node {id, state letter, added_ms} | -1 lock lost | -2 no such
--   job | {-10, id} the id exists | {-11, group} the group would overfill
flows_init()
local wid, n = ARGV[3], num(ARGV[5])
local wrec, wst
if wid ~= '' then
  wrec, wst = check_lock(wid, ARGV[4])
  if not wrec then return wst end
end
local kids = {}
for i = 1, n do kids[i] = {} end
for i = 1, n do
  local par = num(ARGV[6 + (i - 1) * 8 + 5])
  if par > 0 then table.insert(kids[par], i) end
end
-- Refusals first: an id in use, or grouped leaves meeting a full group
-- (counting the tree's own leaves before them, as adds one by one would).
local added, ids = {}, {}
for i = 1, n do
  local b = 6 + (i - 1) * 8
  local id, grp = ARGV[b], ARGV[b + 3]
  if id ~= '' and rcall('HEXISTS', jk(id), 'j:' .. id) == 1 then return {-10, id} end
  if grp ~= '' and #kids[i] == 0 then
    local a = added[grp] or 0
    if a == 0 then
      if group_full(grp) then return {-11, grp} end
    else
      local gs = gstate(grp)
      if gs.max > 0 and gs.w + a >= gs.max then return {-11, grp} end
    end
    if num(ARGV[b + 4]) <= 0 then added[grp] = a + 1 end
  end
  ids[i] = id
end
for i = 1, n do
  if ids[i] == '' then
    local id
    repeat
      id = int(rcall('HINCRBY', K_META, 'id', '1'))
    until rcall('HEXISTS', jk(id), 'j:' .. id) == 0
    ids[i] = id
  end
end
if wid ~= '' then -- the running job leaves active, its lock released
  if wst.g then group_leave(wid, wst) end
  leave_active(wid)
  local d = flow_data(wst.fpd)
  local top = {}
  for i = 1, n do
    if num(ARGV[6 + (i - 1) * 8 + 5]) == 0 then top[#top + 1] = ids[i] end
  end
  if d.kids ~= '' then d.kids = d.kids .. '\3' end
  d.kids = d.kids .. table.concat(top, '\3')
  d.pending, d.total = d.pending + #top, d.total + #top
  wst.fpd = flow_render(d)
  flow_park(wid, wst)
  emit('waiting', wid, 'waiting-children')
end
local out = {}
for i = 1, n do
  local b = 6 + (i - 1) * 8
  local id, prio_s, lifo, grp, delay = ids[i], ARGV[b + 1], ARGV[b + 2] == '1', ARGV[b + 3], num(ARGV[b + 4])
  local par, prio = num(ARGV[b + 5]), num(ARGV[b + 1])
  local l = '0'
  if lifo then l = '1' end
  rcall('HSET', jk(id), 'j:' .. id, NOW_S .. ':' .. prio_s .. ':' .. l .. ':' .. ARGV[b + 7])
  local st = decode_state(nil, nil)
  if grp ~= '' then st.g = grp end
  local pid = wid
  if par > 0 then pid = ids[par] end
  if pid ~= '' then st.fpar, st.fpol = pid, ARGV[b + 6] end
  local s
  if #kids[i] > 0 then
    local kl = {}
    for _, k in ipairs(kids[i]) do kl[#kl + 1] = ids[k] end
    st.fpd = small(#kl) .. ' ' .. small(#kl) .. ' ' .. table.concat(kl, '\3') .. '\4'
    flow_park(id, st)
    emit('added', id, 'waiting-children')
    s = 'K'
  elseif delay > 0 then
    flow_put(id, st)
    delay_job(id, st, NOW + delay)
    emit('delayed', id, int(NOW + delay))
    s = 'D'
  else
    if grp ~= '' then
      group_add(id, grp, lifo)
    else
      push_ready(id, prio, lifo, false, nil) -- a fresh job keeps no state entry
    end
    if pid ~= '' then flow_put(id, st) end
    emit('added', id)
    s = 'W'
    if prio > 0 then s = 'P' end
  end
  out[i] = {id, visible_state(s), NOW}
end
return out
