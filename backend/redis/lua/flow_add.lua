-- flow_add.lua: adds a tree of jobs (backend.Flows FlowAdd), or new
-- children of an active job held by a token that then waits for them
-- (FlowWaitChildren), in one step: nodes with children wait in K
-- (waiting-children), leaves are ready or delayed as add.lua adds them.
-- A node in another queue is written there (in_queue), linked across
-- queues. Links and parent data: lib_flows.lua. Nothing is stored on a
-- refusal.
-- ARGV[3] waiting job id ('' = add a tree), [4] its lock token,
--   [5] node count n, [6] this queue's name, then 10 values per node,
--   parents before their children:
--   id ('' = generate), priority, lifo (0|1), group ('' = none), delay ms,
--   parent (1-based node index; 0 = none for a tree's root, the waiting job
--   otherwise), policy towards the parent (- fail, i ignore, r remove,
--   c continue),
--   body ("<name len>:<opts len>:<name><opts><data>", as add.lua), queue
--   name, queue key base (this queue's: KEYS[1] without "wait")
-- Reply: per node {id, state letter, added_ms} | -1 lock lost | -2 no such
--   job | {-10, id} the id exists | {-11, group} the group would overfill
flows_init()
local wid, n, qname = ARGV[3], num(ARGV[5]), ARGV[6]
local HERE = here()
local function arg(i, k) return ARGV[7 + (i - 1) * 10 + k] end -- k: 0-based value of node i
-- at runs fn in node i's queue, checking its layout on the first visit.
local checked = {}
local function at(i, fn)
  local base = arg(i, 9)
  if base == HERE then return fn() end
  local first = not checked[base]
  checked[base] = true
  return in_queue(base, fn, first and arg(i, 8))
end
-- link returns the id by which node i's parent (index par, 0 for the
-- waiting job) names it, and the link node i keeps to its parent (pid).
local function links(i, par, id, pid)
  local pname, pbase = qname, HERE
  if par > 0 then pname, pbase = arg(par, 8), arg(par, 9) end
  if pbase == arg(i, 9) then return id, pid end
  return '\5' .. arg(i, 9) .. '\5' .. id, '\5' .. pname .. '\5' .. pbase .. '\5' .. pid .. '\5' .. arg(i, 8) .. ':' .. id
end
local wrec, wst
if wid ~= '' then
  wrec, wst = check_lock(wid, ARGV[4])
  if not wrec then return wst end
end
local kids = {}
for i = 1, n do kids[i] = {} end
for i = 1, n do
  local par = num(arg(i, 5))
  if par > 0 then table.insert(kids[par], i) end
end
-- Refusals first: an id in use, or grouped leaves meeting a full group
-- (counting the tree's own leaves before them, as adds one by one would).
local added, ids = {}, {}
for i = 1, n do
  local id, grp = arg(i, 0), arg(i, 3)
  local refused = at(i, function()
    if id ~= '' and rcall('HEXISTS', jk(id), 'j:' .. id) == 1 then return {-10, id} end
    if grp ~= '' and #kids[i] == 0 then
      local g = arg(i, 9) .. '\0' .. grp
      local a = added[g] or 0
      if a == 0 then
        if group_full(grp) then return {-11, grp} end
      else
        local gs = gstate(grp)
        if gs.max > 0 and gs.w + a >= gs.max then return {-11, grp} end
      end
      if num(arg(i, 4)) <= 0 then added[g] = a + 1 end
    end
  end)
  if refused then return refused end
  ids[i] = id
end
for i = 1, n do
  if ids[i] == '' then
    ids[i] = at(i, function()
      local id
      repeat
        id = int(rcall('HINCRBY', K_META, 'id', '1'))
      until rcall('HEXISTS', jk(id), 'j:' .. id) == 0
      return id
    end)
  end
end
if wid ~= '' then -- the running job leaves active, its lock released
  if wst.g then group_leave(wid, wst) end
  leave_active(wid)
  local d = flow_data(wst.fpd)
  local top = {}
  for i = 1, n do
    if num(arg(i, 5)) == 0 then
      top[#top + 1] = links(i, 0, ids[i], wid)
      if arg(i, 9) ~= HERE then set_meta('xq', '1') end
    end
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
  local id, prio_s, lifo, grp, delay = ids[i], arg(i, 1), arg(i, 2) == '1', arg(i, 3), num(arg(i, 4))
  local par, prio = num(arg(i, 5)), num(arg(i, 1))
  local pid = wid
  if par > 0 then pid = ids[par] end
  out[i] = at(i, function()
    local l = '0'
    if lifo then l = '1' end
    rcall('HSET', jk(id), 'j:' .. id, NOW_S .. ':' .. prio_s .. ':' .. l .. ':' .. arg(i, 7))
    local st = decode_state(nil, nil)
    if grp ~= '' then st.g = grp end
    if pid ~= '' then
      local _, link = links(i, par, id, pid)
      st.fpar, st.fpol = link, arg(i, 6)
      if link ~= pid then set_meta('xq', '1') end
    end
    local s
    if #kids[i] > 0 then
      local kl = {}
      for _, k in ipairs(kids[i]) do
        kl[#kl + 1] = links(k, i, ids[k], id)
        if arg(k, 9) ~= arg(i, 9) then set_meta('xq', '1') end
      end
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
    return {id, visible_state(s), NOW}
  end)
end
return out
