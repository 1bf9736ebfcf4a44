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
--            the parent, 'i' ignore, 'r' remove the dependency; '.' and no
--            parent id once the node finished (or for a root). A field not
--            starting with \2 is a plain group (ids and group names hold no
--            control character). parent data, on a node that got children:
--              "<pending> <total> <child ids joined by \3>\4<entries>"
--            entries, appended as children finish: "V<len>:<child id><len>:<value>"
--            for a completed child, "X<len>:<child id><len>:<reason>" for a
--            failed one under ChildIgnore (the backend decodes them).
--   dedup    "\2<parent id>" scored FLOW_BASE + added ms while the parent
--            waits for children (state K): counts (ZCOUNT) and list read it.
--            Dedup expiries are times in ms, far below FLOW_BASE, and a
--            dedup id holds no control character.
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
  return rcall('ZCOUNT', K_DEDUP, FLOW_BASE, '+inf') > 0
end
local flow_put, flow_data, flow_render, flow_park, flow_settle, unlist, remove_job, flow_forget

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

  -- flow_settle stores a waiting parent's data d, and makes it ready when no
  -- child is pending any more.
  flow_settle = function(pid, prec, pst, d)
    pst.fpd = flow_render(d)
    flow_put(pid, pst)
    if d.pending > 0 then return end
    rcall('ZREM', K_DEDUP, '\2' .. pid)
    local prio, lifo = header(prec)
    push_ready(pid, prio, lifo, false, pst)
    emit('waiting', pid)
  end

  -- flow_child_done tells the parent of child id (st, loaded) that it
  -- finished for good: completed (ok, value its return value) or failed
  -- (value its reason), applying the child's policy. A parent failed by its
  -- child fails its own parent in turn. The caller files the child after.
  flow_child_done = function(id, st, ok, value)
    local pid, pol = st.fpar, st.fpol
    st.fpar, st.fpol = nil, nil
    flow_put(id, st)
    local prec, pst = load(pid)
    if not prec or pst.s ~= 'K' then return end
    local d = flow_data(pst.fpd)
    d.pending = d.pending - 1
    if ok then
      d.ent = d.ent .. 'V' .. len(id) .. ':' .. id .. len(value) .. ':' .. value
    elseif pol == 'i' then
      d.ent = d.ent .. 'X' .. len(id) .. ':' .. id .. len(value) .. ':' .. value
    elseif pol ~= 'r' then
      local reason = 'child ' .. id .. ' failed: ' .. value
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
    flow_settle(pid, prec, pst, d)
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
    if st.fpd then
      for kid in string.gmatch(flow_data(st.fpd).kids, '[^\3]+') do
        local krec, kst = load(kid)
        if krec and kst.fpar == id and kst.s ~= 'A' and kst.s ~= 'C' and kst.s ~= 'F' then
          remove_job(kid, kst, id)
        end
      end
    end
    if st.fpar ~= under then flow_forget(st) end
  end

  -- flow_forget tells the parent of a job being deleted before it finished
  -- (st, loaded) that it no longer waits for it, which readies a parent
  -- left with no pending child (remove_job, drain.lua, clean.lua).
  flow_forget = function(st)
    if not st.fpar then return end
    local prec, pst = load(st.fpar)
    if prec and pst.s == 'K' then
      local d = flow_data(pst.fpd)
      d.pending = d.pending - 1
      flow_settle(st.fpar, prec, pst, d)
    end
  end
end
