-- lib_flows.lua: flows (backend.Flows), appended to lib.lua after
-- groups.lua; lib.lua declares flow_state and flow_child_done.
--
-- A flow keeps no key of its own, so a tree of one queue is one slot on
-- Cluster and a job outside flows pays nothing:
--   g:<id>   a flow node's links, in the field that holds a grouped job's
--            group, which load, lock_state (a completion) and the stalled
--            and cancel paths read already:
--              "\2<policy><parent id>\2<group>\2<parent data>"
--            policy is the node's ChildPolicy towards its parent: '-' fail
--            the parent, 'i' ignore, 'r' remove the dependency, 'c'
--            continue the parent at once; '.' and no
--            parent id once the node finished (or for a root). A field not
--            starting with \2 is a plain group (ids and group names hold no
--            control character). parent data, on a node that got children:
--              "<pending> <total> <child ids joined by \3>\4<entries>"
--            entries, appended as children finish: "V<len>:<child id><len>:<value>"
--            for a completed child, "X<len>:<child id><len>:<reason>" for a
--            failed one under ChildIgnore or ChildContinue (the backend
--            decodes them).
--   dedup    "\2<parent id>" scored FLOW_BASE + added ms while the parent
--            waits for children (state K): counts (ZCOUNT) and list read it.
--            Dedup expiries are times in ms, far below FLOW_BASE, and a
--            dedup id holds no control character.
-- Flows across queues. A tree's jobs may be in several queues of one Redis
-- server, or of one Cluster hash slot (the backend refuses other trees,
-- and every tree across queues on a transport whose scripts may touch only
-- the keys they declare: redis.go, FlowsSpanQueues). A script reaching a
-- linked job in another queue builds that queue's keys from the key base
-- the link records and works there as a run of its own (in_queue): the one
-- place a script builds key names. Links across queues:
--   a child's parent id: "\5<parent queue>\5<parent base>\5<parent id>\5<child key>",
--            child key "<child queue>:<child id>", the name the parent
--            knows the child by (backend.ChildKey): in its entries and in
--            the reason it fails with
--   a parent's child, in its child ids: "\5<child base>\5<child id>"
--   meta xq  set on a queue holding such a link: its bulk removals (drain,
--            clean, a group's drain, obliterate) then read their jobs' links
--            to tell the other queues.
-- A child is pending for its parent while its g: names the parent: the
-- child's final outcome (complete_job, fail_job, cancel.lua, stalled.lua)
-- calls flow_child_done, which drops the link and updates the parent in the
-- same script; a removal (remove_job) likewise.

local FLOW_BASE = 4503599627370496 -- 2^52, exact in a zset score

-- parents_waiting reports whether the queue has a parent waiting for
-- children (its entry in the dedup zset): without one, no job of the queue
-- is a pending child, and a bulk removal (clean.lua, group.lua's drain)
-- skips reading each job's links.
local function parents_waiting()
  return rcall('ZCOUNT', K_DEDUP, FLOW_BASE, '+inf') > 0 or linked()
end
local flow_put, flow_data, flow_render, flow_park, flow_settle, unlist, remove_job, flow_forget, drop_kids
local flow_let_go

-- KEY_NAMES are the suffixes of a queue's keys in KEYS order (redis.go
-- keyNames), for in_queue.
local KEY_NAMES = {'wait', 'paused', 'prio', 'jobs', 'meta', 'events', 'delayed', 'dedup', 'active',
  'completed', 'failed', 'limiter', 'stalled', 'metrics'}

-- here is the key base of the queue the run is on.
local function here() return string.sub(K_WAIT, 1, -5) end

-- xparent parses a link to a parent in another queue: its queue, key
-- base, id, and the child's key; nil for a parent in the child's queue.
local function xparent(fpar)
  return string.match(fpar, '^\5([^\5]*)\5([^\5]*)\5([^\5]*)\5(.*)$')
end

-- xq_save returns the run's state on its current queue: its keys, meta
-- cache, events and what done writes; xq_load makes s current again.
local function xq_save()
  local k = {K_WAIT, K_PAUSED, K_PRIO, K_JOBS, K_META, K_EVENTS, K_DELAYED, K_DEDUP, K_ACTIVE,
    K_COMPLETED, K_FAILED, K_LIMITER, K_STALLED, K_METRICS}
  for i = 1, NB - 1 do k[#KEY_NAMES + i] = JB[i] end
  return {k = k, m = M, m_all = M_ALL, wake = WAKE, fq = FQ, fq_set = FQ_SET, retain = RETAIN,
    dc = DONE_C, df = DONE_F, ev = EV, evn = EVN, gxd = GX_D}
end
local function xq_load(s)
  bind(s.k, #KEY_NAMES)
  M, M_ALL, WAKE, FQ, FQ_SET, RETAIN = s.m, s.m_all, s.wake, s.fq, s.fq_set, s.retain
  DONE_C, DONE_F, EV, EVN, GX_D = s.dc, s.df, s.ev, s.evn, s.gxd
end

-- in_queue runs fn on the queue whose keys start with base and returns
-- fn's result; the run is back on its queue after. check, when not false,
-- is the queue's name: see below. A queue the run is
-- not in yet gets a run of its own, with its own switches, events and
-- metrics, written by done as fn ends. A queue the run is in already (the
-- run's own, reached again through a tree that left it: a child in B, its
-- parent in A, theirs in B) continues its state where it left it, so its
-- switches stay true and its own done writes them once. With check, a new
-- queue is first checked to spread its jobs over as many buckets as this
-- one (check_layout): flow_add.lua does, once per queue of a tree; a later
-- step reaches only queues of a tree added so, whose layout obliterate
-- keeps. Outside flows_init: Lua 5.1 allows a function 60 upvalues.
local function in_queue(base, fn, check)
  if KEYS_ONLY then error('FILA_XQ') end
  local from = here()
  if base == from then return fn() end
  XQ = XQ or {}
  XQ[from] = xq_save()
  local again = XQ[base]
  if again then
    xq_load(again)
  else
    local keys = {}
    for i, k in ipairs(KEY_NAMES) do keys[i] = base .. k end
    for i = 1, NB - 1 do keys[#KEY_NAMES + i] = base .. 'jobs:' .. i end
    bind(keys, #KEY_NAMES)
    if check then check_layout(check) end
    fresh()
    EV = {}
  end
  local r = fn()
  if again then
    XQ[base] = xq_save()
  else
    done()
    XQ[base] = nil -- it left the run: a later visit is a run of its own again
  end
  xq_load(XQ[from])
  return r
end

-- forget_far tells the parents in other queues of jobs ids, which a bulk
-- removal (drain.lua, in a queue that is linked()) is about to delete,
-- that they stop waiting for them. A parent in the same queue is the
-- removal's own business.
local function forget_far(ids)
  flows_init()
  for _, id in ipairs(ids) do
    local rec, st = load(id)
    if rec and st.fpar and xparent(st.fpar) then flow_forget(st) end
  end
end

-- flows_init defines the flow functions on first use: run as EVAL scripts
-- (Upstash, Redis < 7) the whole library runs on every call, and a job
-- outside flows should not pay for making their closures. Every entry
-- point calls it first: load and lock_state on a g: field starting with
-- \2, and flow_add.lua, flow_children.lua and remove.lua.
local FLOWS_READY
flows_init = function()
  if FLOWS_READY then return end
  FLOWS_READY = true

  -- flow_state parses a flow node's g: field into st: g (group), fpar and
  -- fpol (parent and policy, while pending for it), fpd (parent data).
  flow_state = function(st, raw)
    local pol, par, grp, pd = string.match(raw, '^\2(.)([^\2]*)\2([^\2]*)\2(.*)$')
    if not pol then return end
    if grp ~= '' then st.g = grp end
    if pol ~= '.' then st.fpar, st.fpol = par, pol end
    if pd ~= '' then st.fpd = pd end
  end

  -- flow_put writes st's group and flow links back to g:.
  flow_put = function(id, st)
    if not st.fpar and not st.fpd then
      if st.g then rcall('HSET', jk(id), 'g:' .. id, st.g) else rcall('HDEL', jk(id), 'g:' .. id) end
      return
    end
    local head = '\2.'
    if st.fpar then head = '\2' .. st.fpol .. st.fpar end
    rcall('HSET', jk(id), 'g:' .. id, head .. '\2' .. (st.g or '') .. '\2' .. (st.fpd or ''))
  end

  -- flow_data parses parent data into {pending, total, kids, ent}.
  flow_data = function(pd)
    local p, t, kids, ent = string.match(pd or '', '^(%d+) (%d+) ([^\4]*)\4(.*)$')
    if not p then return {pending = 0, total = 0, kids = '', ent = ''} end
    return {pending = tonumber(p), total = tonumber(t), kids = kids, ent = ent}
  end

  flow_render = function(d)
    return int(d.pending) .. ' ' .. int(d.total) .. ' ' .. d.kids .. '\4' .. d.ent
  end

  -- flow_park puts a job in waiting-children (the caller has taken it out of
  -- wherever it was).
  flow_park = function(id, st)
    st.s, st.du, st.le, st.tok = 'K', '0', '0', '-'
    put_state(id, st)
    flow_put(id, st)
    rcall('ZADD', K_DEDUP, int(FLOW_BASE + NOW), '\2' .. id)
  end

  -- flow_settle stores a parent's data d, and makes a waiting parent ready
  -- when no child is pending any more, or now. A parent that no longer
  -- waits (released by 'c', failed by another child) only keeps d.
  flow_settle = function(pid, prec, pst, d, now)
    pst.fpd = flow_render(d)
    flow_put(pid, pst)
    if pst.s ~= 'K' or (d.pending > 0 and not now) then return end
    rcall('ZREM', K_DEDUP, '\2' .. pid)
    local prio, lifo = header(prec)
    push_ready(pid, prio, lifo, false, pst)
    emit('waiting', pid)
  end

  -- flow_child_done tells the parent of child id (st, loaded) that it
  -- finished for good: completed (ok, value its return value) or failed
  -- (value its reason), applying the child's policy. A parent failed by its
  -- child fails its own parent in turn. The caller files the child after.
  local flow_told
  flow_child_done = function(id, st, ok, value)
    local pid, pol = st.fpar, st.fpol
    st.fpar, st.fpol = nil, nil
    local _, pbase, xpid, key = xparent(pid)
    if pbase then
      in_queue(pbase, function() flow_told(xpid, key, pol, ok, value) end)
    else
      flow_told(pid, id, pol, ok, value)
    end
    flow_put(id, st) -- after: a run stopped on its way to the parent leaves the link
  end
  -- flow_told applies a child's outcome to parent pid (in the run's queue),
  -- which knows the child by key. A parent that does not wait for children
  -- any more (released by 'c', failed by another child) records the
  -- outcome and nothing else, so that it does not wait for the child again
  -- if it fans out anew.
  flow_told = function(pid, key, pol, ok, value)
    local prec, pst = load(pid)
    if not prec or not pst.fpd then return end
    local d = flow_data(pst.fpd)
    d.pending = d.pending - 1
    if ok then
      d.ent = d.ent .. 'V' .. len(key) .. ':' .. key .. len(value) .. ':' .. value
    elseif pol == 'i' or pol == 'c' then
      d.ent = d.ent .. 'X' .. len(key) .. ':' .. key .. len(value) .. ':' .. value
    elseif pol ~= 'r' and pst.s == 'K' then
      local reason = 'child ' .. key .. ' failed: ' .. value
      pst.fpd = flow_render(d)
      rcall('ZREM', K_DEDUP, '\2' .. pid)
      pst.s = 'F'
      rcall('HSET', jk(pid), 'e:' .. pid, reason)
      emit('failed', pid, reason)
      if pst.fpar then flow_child_done(pid, pst, false, reason) else flow_put(pid, pst) end
      local remove, keep_last, keep_for = fail_retention(prec)
      finish(pid, pst, K_FAILED, remove, keep_last, keep_for)
      return
    end
    flow_settle(pid, prec, pst, d, not ok and pol == 'c')
  end

  -- unlist takes a job that is not active out of its list or set, and out of
  -- its group's line (or frees its slot).
  unlist = function(id, st)
    if st.g then group_leave(id, st) end
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
    elseif st.s == 'K' then
      rcall('ZREM', K_DEDUP, '\2' .. id)
    end
  end

  -- remove_job deletes a job that is not active (remove.lua). A parent takes
  -- its unfinished children (not active ones) with it; a pending child stops
  -- being waited for, which readies a parent left with none. under: the
  -- parent being removed, whose children skip that step.
  remove_job = function(id, st, under)
    unlist(id, st)
    delete_job(id)
    emit('removed', id)
    if st.fpd then drop_kids(id, st, false) end
    if st.fpar ~= under then flow_forget(st) end
  end

  -- drop_kids removes the unfinished children (not active ones) of parent
  -- id (st, loaded) as remove_job does, or only those in other queues
  -- (far, for flow_let_go).
  local unfinished = function(st) return st.s ~= 'A' and st.s ~= 'C' and st.s ~= 'F' end
  drop_kids = function(id, st, far)
    local base = here()
    for kid in string.gmatch(flow_data(st.fpd).kids, '[^\3]+') do
      local kbase, kid_id = string.match(kid, '^\5([^\5]*)\5(.*)$')
      if kbase then
        in_queue(kbase, function()
          local krec, kst = load(kid_id)
          if krec and kst.fpar and unfinished(kst) then
            local _, pbase, pid = xparent(kst.fpar)
            if pbase == base and pid == id then remove_job(kid_id, kst, kst.fpar) end
          end
        end)
      elseif not far then
        local krec, kst = load(kid)
        if krec and kst.fpar == id and unfinished(kst) then remove_job(kid, kst, id) end
      end
    end
  end

  -- flow_let_go tells the queues linked to this one's jobs that the jobs
  -- are going (obliterate.lua): a parent elsewhere stops waiting for its
  -- child here, and the unfinished children elsewhere of a parent here go
  -- with it. It reads every job's links, in a queue that has any (xq).
  flow_let_go = function()
    if not linked() then return end
    for b = 0, NB - 1 do
      local bucket = K_JOBS
      if b > 0 then bucket = JB[b] end
      local cursor = '0'
      repeat
        local r = rcall('HSCAN', bucket, cursor, 'MATCH', 'g:*', 'COUNT', 1000)
        cursor = r[1]
        for i = 1, #r[2], 2 do
          local st = {}
          if string.byte(r[2][i + 1], 1) == 2 then flow_state(st, r[2][i + 1]) end
          if st.fpar and xparent(st.fpar) then flow_forget(st) end
          if st.fpd then drop_kids(string.sub(r[2][i], 3), st, true) end
        end
      until cursor == '0'
    end
  end

  -- forget_in drops a pending child of parent pid (in the run's queue).
  local forget_in = function(pid)
    local prec, pst = load(pid)
    if not prec or not pst.fpd then return end
    local d = flow_data(pst.fpd)
    d.pending = d.pending - 1
    flow_settle(pid, prec, pst, d)
  end
  -- flow_forget tells the parent of a job being deleted before it finished
  -- (st, loaded) that it no longer waits for it, which readies a parent
  -- left with no pending child (remove_job, drain.lua, clean.lua).
  flow_forget = function(st)
    if not st.fpar then return end
    local _, pbase, pid = xparent(st.fpar)
    if pbase then in_queue(pbase, function() forget_in(pid) end) else forget_in(st.fpar) end
  end
end
