-- sched.lua: changes a job scheduler, atomically with the job of its
-- pending tick (record: sched_lib.lua).
-- ARGV[3] op: 'u' upsert, 'a' advance, 'r' remove, then:
--   upsert:  [4] id, [5] spec, [6] prev spec ('' = none stored), [7] first
--            tick ms, [8] tick job id, [9] limit, [10] priority, [11] lifo, [12] body
--   advance: [4] id, [5] spec, [6] from tick ms, [7] next tick ms ('' = end),
--            [8] next tick job id
--   remove:  [4] id
-- Reply: upsert 0 stored, 1 replaced, -1 conflict (stored spec is not prev);
--        advance 0 advanced, 1 stale, 2 ended; remove 1 removed, 0 none.
local op, id = ARGV[3], ARGV[4]
local raw = rcall('HGET', K_SCHED, id)
local r = raw and sched_decode(raw)

-- add_tick adds the job of a tick: delayed until it, or ready when it is
-- past. An existing job of that id is left as it is.
local function add_tick(rec)
  local jid = rec.jid
  if rcall('HEXISTS', jk(jid), 'j:' .. jid) == 1 then return end
  rcall('HSET', jk(jid), 'j:' .. jid, NOW_S .. ':' .. rec.prio .. ':' .. rec.lifo .. ':' .. rec.body)
  local due = tonumber(rec.next)
  if due > NOW then
    delay_job(jid, decode_state(nil, nil), due)
    emit('delayed', jid, rec.next)
  else
    push_ready(jid, num(rec.prio), rec.lifo == '1', false, nil)
    emit('added', jid)
  end
end

-- drop_pending removes the pending job unless it started or finished.
local function drop_pending(jid)
  local rec, st = load(jid)
  if not rec then return end
  if st.s == 'W' then
    rcall('LREM', K_WAIT, 1, jid)
    rcall('LREM', K_PAUSED, 1, jid)
  elseif st.s == 'P' then
    if meta().fd == jid then
      clear_fed()
      rcall('LREM', K_WAIT, 1, jid)
    end
    rcall('ZREM', K_PRIO, jid)
  elseif st.s == 'D' then
    rcall('ZREM', K_DELAYED, jid)
  else
    return
  end
  delete_job(jid)
  feed()
  emit('removed', jid)
end

if op == 'u' then
  local stored = ''
  if r then stored = r.spec end
  if stored ~= ARGV[6] then return -1 end
  local last = ''
  if r then
    drop_pending(r.jid)
    last = r.last
  end
  local rec = {next = ARGV[7], it = 1, limit = num(ARGV[9]), prio = ARGV[10], lifo = ARGV[11],
    spec = ARGV[5], jid = ARGV[8], last = last, body = ARGV[12]}
  rcall('HSET', K_SCHED, id, sched_encode(rec))
  add_tick(rec)
  if r then return 1 end
  return 0
elseif op == 'a' then
  if not r or r.spec ~= ARGV[5] or r.next ~= ARGV[6] then return 1 end
  if ARGV[7] == '' or (r.limit > 0 and r.it >= r.limit) then
    rcall('HDEL', K_SCHED, id)
    return 2
  end
  r.last, r.jid, r.next, r.it = r.jid, ARGV[8], ARGV[7], r.it + 1
  rcall('HSET', K_SCHED, id, sched_encode(r))
  add_tick(r)
  return 0
elseif op == 'r' then
  if not raw then return 0 end
  if r then drop_pending(r.jid) end
  rcall('HDEL', K_SCHED, id)
  return 1
end
return redis.error_reply('sched: unknown op ' .. tostring(op))
