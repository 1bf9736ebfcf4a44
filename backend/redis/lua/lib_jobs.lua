-- lib_jobs.lua: the second part of lib.lua (scripts.go loads lib.lua,
-- lib_jobs.lua, lib_claim.lua and lib_finish.lua as one chunk): a job's
-- record and state, and the ready lists (waiting, paused, and the
-- prioritized set with its fed job).

-- order_score is a finished-set score that sorts in finish order, even
-- within one millisecond: the time and a sequence kept in meta (fq), which
-- done writes back.
local function order_score()
  if not FQ then FQ = tonumber(rcall('HGET', K_META, 'fq') or '0') end
  FQ = (FQ + 1) % SEQ_SPAN
  FQ_SET = true
  return int(NOW * SEQ_SPAN + FQ)
end

-- header returns a record's priority, lifo flag and add time.
local function header(rec)
  local t, p, l = string.match(rec, '^(%d+):(%d+):(%d):')
  if not t then return 0, false, 0 end
  return tonumber(p), l == '1', tonumber(t)
end

-- decode_state parses a state string, or derives the state of a job that
-- has not moved since its add from its record. Its numbers stay strings:
-- most pass through unchanged, and converting each one both ways was a
-- tenth of a job's cost. A changed field is set with int(); a field used
-- in arithmetic or a comparison is read with tonumber().
local function decode_state(raw, rec)
  if raw then
    local s, a, m, sc, pt, ft, du, le, tok = string.match(raw,
      '^(%a) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (.*)$')
    if s then
      return {s = s, started = a, made = m, stalled = sc, pt = pt, ft = ft, du = du, le = le, tok = tok}
    end
  end
  local s, p = 'W', rec and string.match(rec, '^%d+:(%d+):')
  if p and p ~= '0' then s = 'P' end -- the record's priority, compared unconverted
  return {s = s, started = '0', made = '0', stalled = '0', pt = '0', ft = '0', du = '0', le = '0', tok = '-'}
end

-- encode_state renders st, with letter (when given) in place of st.s.
local function encode_state(st, letter)
  return (letter or st.s) .. ' ' .. st.started .. ' ' .. st.made .. ' ' .. st.stalled .. ' ' .. st.pt .. ' ' ..
    st.ft .. ' ' .. st.du .. ' ' .. st.le .. ' ' .. st.tok
end

-- put_state stores st and returns it encoded.
local function put_state(id, st)
  local enc = encode_state(st)
  rcall('HSET', jk(id), 's:' .. id, enc)
  return enc
end

-- load returns a job's record and state (nil when the job does not exist).
-- The state carries the job's group (g) when it has one, and a flow node's
-- links (lib_flows.lua: g: starts with \2 for those).
local function load(id)
  local v = rcall('HMGET', jk(id), 'j:' .. id, 's:' .. id, 'g:' .. id)
  if not v[1] then return nil end
  local st = decode_state(v[2], v[1])
  if v[3] then
    if string.byte(v[3]) == 2 then flows_init(); flow_state(st, v[3]) else st.g = v[3] end
  end
  return v[1], st
end

-- load_full returns a job's record, its stored state undecoded (false for
-- a job that has not moved since its add) and the reply fields {reason,
-- stacks, progress, result} in one read. A fresh job has none of the last
-- four, but they are read anyway: a field written there by anything else
-- must still be seen (a corrupt stack list fails the claim).
local function load_full(id)
  local v = rcall('HMGET', jk(id), 'j:' .. id, 's:' .. id, 'e:' .. id, 't:' .. id, 'p:' .. id, 'r:' .. id)
  if not v[1] then return nil end
  return v[1], v[2], {v[3], v[4], v[5], v[6]}
end

-- new_job writes a new job's record (see KEYS: j:<id>) and returns its id,
-- generated when id is '' (add.lua, add1.lua). l is '1' for LIFO, else '0'.
local function new_job(id, prio_s, l, body)
  local rec = NOW_S .. ':' .. prio_s .. ':' .. l .. ':' .. body -- prio_s: a whole number, as Go prints it
  if id ~= '' then
    rcall('HSET', jk(id), 'j:' .. id, rec)
    return id
  end
  -- A generated id is never taken, but HSETNX makes sure of it.
  repeat
    id = int(rcall('HINCRBY', K_META, 'id', '1'))
  until rcall('HSETNX', jk(id), 'j:' .. id, rec) == 1
  return id
end

-- visible_state reports a waiting job of a paused queue as paused (Z).
local function visible_state(s)
  if s == 'W' and is_paused() then return 'Z' end
  return s
end

-- job_reply is a job as the backend decodes it: one string, "J" and seven
-- length-prefixed fields "<len>:<bytes>" (id, record, state, reason,
-- stacks, progress, result). One bulk string instead of an array of eight
-- saves the client a dozen allocations per job. state: the encoded state,
-- when the caller has it.
local function job_reply(id, rec, st, v, state)
  v = v or rcall('HMGET', jk(id), 'e:' .. id, 't:' .. id, 'p:' .. id, 'r:' .. id)
  state = state or encode_state(st, visible_state(st.s))
  local e, t, p, r = v[1] or '', v[2] or '', v[3] or '', v[4] or ''
  return 'J' .. len(id) .. ':' .. id .. len(rec) .. ':' .. rec .. len(state) .. ':' .. state .. len(e) .. ':' .. e ..
    len(t) .. ':' .. t .. len(p) .. ':' .. p .. len(r) .. ':' .. r
end

-- DEFAULT_KEEP_FAILED is backend.DefaultKeepFailed: the failed jobs kept
-- when a job sets no RemoveOnFail.
local DEFAULT_KEEP_FAILED = 5000

-- fail_retention reads RemoveOnFail from a record's options
-- ("...;rf=<remove>,<keep last>,<keep for ns>;...", see codec.go; remove
-- 'a' is KeepAll) for the slow paths that fail a job without a worker:
-- remove, keep last, keep for ms. A job without one gets the default.
local function fail_retention(rec)
  local body = string.match(rec, '^%d+:%d+:%d:(.*)$')
  local nlen, olen, rest = string.match(body or '', '^(%d+):(%d+):(.*)$')
  if not nlen then return false, DEFAULT_KEEP_FAILED, 0 end
  local opts = string.sub(rest, tonumber(nlen) + 1, tonumber(nlen) + tonumber(olen))
  local r, l, f = string.match(';' .. opts, ';rf=([01a]),(%d+),(%d+)')
  if not r then return false, DEFAULT_KEEP_FAILED, 0 end
  if r == 'a' then return false, 0, 0 end
  return r == '1', tonumber(l), math.floor(tonumber(f) / 1000000)
end

-- fed_in_wait returns the fed job's id while it still sits in wait.
local function fed_in_wait()
  local fd = meta().fd
  if fd and rcall('LPOS', K_WAIT, fd) then return fd end
  return nil
end

local function clear_fed()
  if M and M.fd then
    rcall('HDEL', K_META, 'fd', 'fs')
    M.fd, M.fs = false, false
  end
end

-- add_prio puts a job in the prioritized set and raises the hp flag.
local function add_prio(score, id)
  rcall('ZADD', K_PRIO, score, id)
  local m = meta()
  if not m.hp then
    set_meta('hp', 1)
    m.hp = true
  end
end

-- unfeed takes the fed job out of wait, back to the prioritized set.
local function unfeed()
  if not meta_pf().fd then return end
  local m = meta()
  local fd, fs = m.fd, fed_score()
  clear_fed()
  if rcall('LREM', K_WAIT, 1, fd) == 1 then
    add_prio(fs, fd)
  end
end

-- feed keeps the invariant: when wait holds no job without priority and the
-- queue is not paused, the best prioritized job sits at wait's consuming end.
local function feed()
  local m = meta()
  if m.paused or not m.hp then return end
  if m.fd then
    if rcall('LPOS', K_WAIT, m.fd) then
      local best = rcall('ZRANGE', K_PRIO, 0, 0, 'WITHSCORES')
      if #best == 0 or tonumber(best[2]) >= tonumber(fed_score()) then return end
      unfeed()
    else
      clear_fed() -- a BLMOVE took it; its claim finalizes it
    end
  end
  local n = rcall('LLEN', K_WAIT)
  -- A lone marker is no job. (Meta mk cannot tell: it stays set while a
  -- claim's BLMOVE holds the marker in active, until its claim_moved.)
  if n == 1 and rcall('LINDEX', K_WAIT, 0) == MARKER then n = 0 end
  if n > 0 then return end
  local top = rcall('ZPOPMIN', K_PRIO)
  if #top == 0 then
    rcall('HDEL', K_META, 'hp')
    m.hp = false
    return
  end
  rcall('RPUSH', K_WAIT, top[1])
  rcall('HSET', K_META, 'fd', top[1], 'fs', top[2])
  m.fd, m.fs = top[1], top[2]
end

-- ready_list returns the list a job without priority joins: paused while
-- the queue is paused, else wait, after taking the fed prioritized job
-- back (unfeed), as a job without priority runs first.
local function ready_list()
  if is_paused() then return K_PAUSED end
  unfeed()
  return K_WAIT
end

-- push_ready makes a job claimable: prioritized set, or the waiting (or
-- paused) list at the consuming end (front) or the far end. A job that has
-- never moved keeps no state entry (st nil).
local function push_ready(id, prio, lifo, front, st)
  if st and st.g then
    group_push(id, st, front or lifo)
    st.s, st.du, st.le, st.tok = 'W', '0', '0', '-'
    put_state(id, st)
    return
  end
  if prio > 0 then
    local seq = 0
    if not front then seq = rcall('HINCRBY', K_META, 'pc', '1') % PRIO_SPAN end
    add_prio(int((prio - 1) * PRIO_SPAN + seq), id)
    if st then st.s = 'P' end
    feed()
  else
    local list = ready_list()
    if front or lifo then rcall('RPUSH', list, id) else rcall('LPUSH', list, id) end
    if st then st.s = 'W' end
  end
  if st then
    st.du, st.le, st.tok = '0', '0', '-'
    put_state(id, st)
  end
end

-- hand_back returns a job that was moved to active but may not run yet to
-- the consuming end of its list, untouched.
local function hand_back(id, rec)
  rcall('LREM', K_ACTIVE, '1', id)
  if not rec then return end
  local prio = header(rec)
  if prio > 0 and meta().fd ~= id then
    add_prio(int((prio - 1) * PRIO_SPAN), id)
    feed()
  elseif is_paused() then
    rcall('RPUSH', K_PAUSED, id)
  else
    rcall('RPUSH', K_WAIT, id)
  end
end
