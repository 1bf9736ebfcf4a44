-- lib.lua: state and helpers shared by every fila script. It is prepended to
-- each script when the backend loads it, so every script sees the same keys.
--
-- KEYS, identical for every script. All keys of one queue share the hash tag
-- {queue}, so every script is single-slot and valid on Redis Cluster; no key
-- name is ever built inside a script.
--   1 wait       list   ready jobs without priority; the consuming end is the right
--   2 paused     list   the waiting list while the queue is paused (renamed from wait)
--   3 active     list   claimed jobs (BLMOVE pushes on the left)
--   4 prio       zset   prioritized jobs, score priority*2^32 + sequence
--   5 delayed    zset   delayed jobs, score due_ms*4096 + sequence%4096
--   6 completed  zset   completed jobs, score finish_ms*4096 + sequence%4096
--   7 failed     zset   failed jobs, same scoring
--   8 jobs       hash   id -> record "<added_ms>:<priority>:<lifo>:<body>", written once
--   9 state      hash   id -> "<S> <started> <made> <stalled> <processed_ms> <finished_ms> <due_ms>"
--                       S is W waiting, P prioritized, D delayed, A active, C completed, F failed
--  10 info       hash   r:<id> return value, e:<id> failed reason, s:<id> stacks (JSON array),
--                       p:<id> progress, d:<dedup id> the job that used a dedup id
--  11 locks      hash   id -> "<token> <expires_ms>"
--  12 logs       hash   "<n>:<id>" -> log line n of a job
--  13 logn       hash   id -> "<first> <next>": the kept log lines are first .. next-1
--  14 meta       hash   paused; fd, fs (the fed prioritized job in wait and its score);
--                       mk (a wake marker is in wait); pc, sq (sequences); id (last generated id);
--                       rl (rate limited until ms); sg (next stalled check ms);
--                       cm, cc, cf (metrics: current minute and its counts)
--  15 dedup      zset   dedup id -> expiry ms
--  16 limiter    zset   sliding log of claim times for the global rate limit
--  17 stalled    set    ids marked by the last stalled check
--  18 events     stream the event log, capped near ARGV[1] entries
--  19 metrics    list   "<completed> <failed>" per past minute, newest first
--
-- ARGV[1] is the event stream's approximate maximum length and ARGV[2] the
-- number of per-minute metric points kept; each script's own ARGV follow.
--
-- Priority design (see doc.go): a blocked BLMOVE can only see the wait list,
-- so when wait holds no job without priority, feed() moves the best
-- prioritized job to wait's consuming end and records it as "fed". A job
-- without priority entering wait first takes the fed job back (unfeed), so
-- priority-0 jobs always run first and prioritized jobs run in order.

local K_WAIT, K_PAUSED, K_ACTIVE, K_PRIO, K_DELAYED = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local K_COMPLETED, K_FAILED, K_JOBS, K_STATE, K_INFO = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local K_LOCKS, K_LOGS, K_LOGN, K_META, K_DEDUP = KEYS[11], KEYS[12], KEYS[13], KEYS[14], KEYS[15]
local K_LIMITER, K_STALLED, K_EVENTS, K_METRICS = KEYS[16], KEYS[17], KEYS[18], KEYS[19]

local EVENTS_MAX = ARGV[1]
local METRICS_MAX = tonumber(ARGV[2])
local MARKER = '0' -- wakes a blocked claim; never a job id (generated ids start at 1)
local SEQ_SPAN = 4096
local PRIO_SPAN = 4294967296

local rcall = redis.call

local NOW
do
  local t = rcall('TIME')
  NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function int(x) return string.format('%.0f', x) end

local function emit(typ, id, data)
  if data then
    rcall('XADD', K_EVENTS, 'MAXLEN', '~', EVENTS_MAX, '*', 'e', typ, 'j', id, 'd', data)
  else
    rcall('XADD', K_EVENTS, 'MAXLEN', '~', EVENTS_MAX, '*', 'e', typ, 'j', id)
  end
end

local function fresh_state(s)
  return {s = s, started = 0, made = 0, stalled = 0, pt = 0, ft = 0, du = 0}
end

-- get_state returns the job's mutable state, a fresh one when none is stored
-- or it does not parse, or nil when the job does not exist.
local function get_state(id)
  local raw = rcall('HGET', K_STATE, id)
  if raw then
    local s, a, m, sc, pt, ft, du = string.match(raw, '^(%a) (%d+) (%d+) (%d+) (%d+) (%d+) (%d+)$')
    if s then
      return {s = s, started = tonumber(a), made = tonumber(m), stalled = tonumber(sc),
              pt = tonumber(pt), ft = tonumber(ft), du = tonumber(du)}
    end
  end
  if rcall('HEXISTS', K_JOBS, id) == 0 then return nil end
  return fresh_state('W')
end

local function put_state(id, st)
  rcall('HSET', K_STATE, id, st.s .. ' ' .. int(st.started) .. ' ' .. int(st.made) .. ' ' ..
    int(st.stalled) .. ' ' .. int(st.pt) .. ' ' .. int(st.ft) .. ' ' .. int(st.du))
end

-- header returns a record's priority and lifo flag, and its add time.
local function header(rec)
  local t, p, l = string.match(rec, '^(%d+):(%d+):(%d):')
  if not t then return 0, false, 0 end
  return tonumber(p), l == '1', tonumber(t)
end

local function next_seq(field, span)
  return rcall('HINCRBY', K_META, field, 1) % span
end

local function is_paused() return rcall('HEXISTS', K_META, 'paused') == 1 end

local function has_marker() return rcall('HEXISTS', K_META, 'mk') == 1 end

-- visible_state reports a waiting job of a paused queue as paused (Z).
local function visible_state(s)
  if s == 'W' and is_paused() then return 'Z' end
  return s
end

-- job_opts decodes the options JSON inside a record (slow path only).
local function job_opts(rec)
  local body = string.match(rec, '^%d+:%d+:%d:(.*)$')
  if not body then return {} end
  local nlen, olen, rest = string.match(body, '^(%d+):(%d+):(.*)$')
  if not nlen then return {} end
  local raw = string.sub(rest, tonumber(nlen) + 1, tonumber(nlen) + tonumber(olen))
  if raw == '' then return {} end
  local ok, o = pcall(cjson.decode, raw)
  if ok and type(o) == 'table' then return o end
  return {}
end

-- fed_in_wait returns the fed job's id while it still sits in wait.
local function fed_in_wait()
  local fd = rcall('HGET', K_META, 'fd')
  if fd and rcall('LPOS', K_WAIT, fd) then return fd end
  return nil
end

-- unfeed takes the fed job out of wait, back to the prioritized set.
local function unfeed()
  local fd = rcall('HGET', K_META, 'fd')
  if not fd then return end
  local fs = rcall('HGET', K_META, 'fs')
  rcall('HDEL', K_META, 'fd', 'fs')
  if rcall('LREM', K_WAIT, 1, fd) == 1 then
    rcall('ZADD', K_PRIO, fs, fd)
  end
end

-- feed keeps the invariant: when wait holds no job without priority and the
-- queue is not paused, the best prioritized job sits at wait's consuming end.
local function feed()
  if is_paused() then return end
  local fd = rcall('HGET', K_META, 'fd')
  if fd then
    if rcall('LPOS', K_WAIT, fd) then
      local best = rcall('ZRANGE', K_PRIO, 0, 0, 'WITHSCORES')
      if #best == 0 or tonumber(best[2]) >= tonumber(rcall('HGET', K_META, 'fs')) then return end
      unfeed()
    else
      rcall('HDEL', K_META, 'fd', 'fs') -- a BLMOVE took it; its claim finalizes it
    end
  end
  local n = rcall('LLEN', K_WAIT)
  if has_marker() then n = n - 1 end
  if n > 0 then return end
  local top = rcall('ZPOPMIN', K_PRIO)
  if #top == 0 then return end
  rcall('RPUSH', K_WAIT, top[1])
  rcall('HSET', K_META, 'fd', top[1], 'fs', top[2])
end

-- push_ready makes a job claimable: prioritized set, or the waiting (or
-- paused) list at the consuming end (front) or the far end.
local function push_ready(id, prio, lifo, front, st)
  if prio > 0 then
    local seq = 0
    if not front then seq = next_seq('pc', PRIO_SPAN) end
    rcall('ZADD', K_PRIO, int(prio * PRIO_SPAN + seq), id)
    st.s = 'P'
    feed()
  else
    local list = K_PAUSED
    if not is_paused() then
      list = K_WAIT
      unfeed()
    end
    if front or lifo then rcall('RPUSH', list, id) else rcall('LPUSH', list, id) end
    st.s = 'W'
  end
  st.du = 0
  put_state(id, st)
end

-- hand_back returns a job that was moved to active but may not run yet to
-- the consuming end of its list, untouched.
local function hand_back(id)
  rcall('LREM', K_ACTIVE, 1, id)
  local rec = rcall('HGET', K_JOBS, id)
  if not rec then return end
  local prio = header(rec)
  if prio > 0 and rcall('HGET', K_META, 'fd') ~= id then
    rcall('ZADD', K_PRIO, int(prio * PRIO_SPAN), id)
    feed()
  elseif is_paused() then
    rcall('RPUSH', K_PAUSED, id)
  else
    rcall('RPUSH', K_WAIT, id)
  end
end

local function next_due()
  local f = rcall('ZRANGE', K_DELAYED, 0, 0, 'WITHSCORES')
  if #f == 0 then return -1 end
  return math.max(0, math.floor(tonumber(f[2]) / SEQ_SPAN) - NOW)
end

-- wake_for_delayed pushes a marker when a job just became the earliest
-- delayed one and claims may be blocked on an empty wait list with a longer
-- timeout. A non-empty wait list means no claim is blocked.
local function wake_for_delayed(id)
  if has_marker() or is_paused() then return end
  if rcall('ZRANGE', K_DELAYED, 0, 0)[1] ~= id then return end
  if rcall('LLEN', K_WAIT) > 0 then return end
  rcall('RPUSH', K_WAIT, MARKER)
  rcall('HSET', K_META, 'mk', 1)
end

local function delay_job(id, st, due)
  rcall('ZADD', K_DELAYED, int(due * SEQ_SPAN + next_seq('sq', SEQ_SPAN)), id)
  st.s = 'D'
  st.du = due
  put_state(id, st)
  wake_for_delayed(id)
end

-- promote_due moves up to limit delayed jobs whose time has come to ready.
local function promote_due(limit)
  local due = rcall('ZRANGEBYSCORE', K_DELAYED, '-inf', int(NOW * SEQ_SPAN + SEQ_SPAN - 1), 'LIMIT', 0, limit)
  if #due == 0 then return end
  rcall('ZREM', K_DELAYED, unpack(due))
  for _, id in ipairs(due) do
    local rec = rcall('HGET', K_JOBS, id)
    if rec then
      local prio, lifo = header(rec)
      push_ready(id, prio, lifo, false, get_state(id) or fresh_state('W'))
    end
  end
end

-- limiter_take records a start and returns 0 when fewer than max starts
-- happened in (NOW-per, NOW]; otherwise the ms until one slot frees.
local function limiter_take(max, per, member)
  if max <= 0 then return 0 end
  rcall('ZREMRANGEBYSCORE', K_LIMITER, '-inf', NOW - per)
  local n = rcall('ZCARD', K_LIMITER)
  if n >= max then
    local oldest = rcall('ZRANGE', K_LIMITER, n - max, n - max, 'WITHSCORES')
    return math.max(1, tonumber(oldest[2]) + per - NOW)
  end
  rcall('ZADD', K_LIMITER, NOW, member)
  rcall('PEXPIRE', K_LIMITER, per)
  return 0
end

local function rate_limited_for()
  local rl = tonumber(rcall('HGET', K_META, 'rl') or '0')
  if rl > NOW then return rl - NOW end
  return 0
end

-- job_reply is a claimed or read job: {1, id, record, state, reason, stacks, progress, result}.
local function job_reply(id, raw_state)
  local rec = rcall('HGET', K_JOBS, id)
  local info = rcall('HMGET', K_INFO, 'e:' .. id, 's:' .. id, 'p:' .. id, 'r:' .. id)
  return {1, id, rec, raw_state or rcall('HGET', K_STATE, id) or '', info[1] or '', info[2] or '', info[3] or '', info[4] or ''}
end

local function activate(id, token, lock_ms, st)
  rcall('HSET', K_LOCKS, id, token .. ' ' .. int(NOW + lock_ms))
  st.s = 'A'
  st.started = st.started + 1
  st.pt = NOW
  put_state(id, st)
  emit('active', id)
  return job_reply(id)
end

-- claim_next moves the next ready job to active under a lock. Replies:
-- {1, job...} claimed; {0, ms until the next delayed job or -1}; {2, ms} rate limited.
local function claim_next(token, lock_ms, lmax, lper)
  promote_due(1000)
  if is_paused() then return {0, next_due()} end
  local rl = rate_limited_for()
  if rl > 0 then return {2, rl} end
  local id
  repeat
    id = rcall('RPOP', K_WAIT)
    if id == MARKER then rcall('HDEL', K_META, 'mk') end
  until id ~= MARKER
  if not id then return {0, next_due()} end
  local wait_ms = limiter_take(lmax, lper, token)
  if wait_ms > 0 then
    rcall('RPUSH', K_WAIT, id)
    return {2, wait_ms}
  end
  if rcall('HGET', K_META, 'fd') == id then rcall('HDEL', K_META, 'fd', 'fs') end
  rcall('LPUSH', K_ACTIVE, id)
  local st = get_state(id)
  if not st then -- a list entry without a record: drop it and try the next
    rcall('LREM', K_ACTIVE, 1, id)
    emit('failed', id, 'job record missing')
    feed()
    return claim_next(token, lock_ms, lmax, lper)
  end
  local reply = activate(id, token, lock_ms, st)
  feed()
  return reply
end

-- check_lock returns the state of an active job held by token, or nil and
-- -2 (no such job) or -1 (lock lost).
local function check_lock(id, token)
  local l = rcall('HGET', K_LOCKS, id)
  if not l then
    if rcall('HEXISTS', K_JOBS, id) == 0 then return nil, -2 end
    return nil, -1
  end
  local tok, exp = string.match(l, '^(.*) (%d+)$')
  if tok ~= token or tonumber(exp) <= NOW then return nil, -1 end
  local st = get_state(id)
  if not st then return nil, -2 end
  if st.s ~= 'A' then return nil, -1 end
  return st
end

-- delete_job removes every trace of a job except list or set membership.
local function delete_job(id)
  rcall('HDEL', K_JOBS, id)
  rcall('HDEL', K_STATE, id)
  rcall('HDEL', K_LOCKS, id)
  rcall('HDEL', K_INFO, 'r:' .. id, 'e:' .. id, 's:' .. id, 'p:' .. id)
  local ln = rcall('HGET', K_LOGN, id)
  if ln then
    local first, nxt = string.match(ln, '^(%d+) (%d+)$')
    for n = tonumber(first), tonumber(nxt) - 1 do
      rcall('HDEL', K_LOGS, n .. ':' .. id)
    end
    rcall('HDEL', K_LOGN, id)
  end
  rcall('SREM', K_STALLED, id)
end

-- retain applies keep-for and keep-last to a finished set, at most 1000
-- removals per call.
local function retain(zkey, keep_last, keep_for)
  local budget = 1000
  if keep_for > 0 then
    local old = rcall('ZRANGEBYSCORE', zkey, '-inf', int((NOW - keep_for) * SEQ_SPAN + SEQ_SPAN - 1), 'LIMIT', 0, budget)
    for _, id in ipairs(old) do delete_job(id) end
    if #old > 0 then rcall('ZREM', zkey, unpack(old)) end
    budget = budget - #old
  end
  if keep_last > 0 and budget > 0 then
    local extra = rcall('ZCARD', zkey) - keep_last
    if extra > 0 then
      local old = rcall('ZRANGE', zkey, 0, math.min(extra, budget) - 1)
      for _, id in ipairs(old) do delete_job(id) end
      rcall('ZREMRANGEBYRANK', zkey, 0, #old - 1)
    end
  end
end

local function metrics_add(failed)
  local m = math.floor(NOW / 60000)
  local v = rcall('HMGET', K_META, 'cm', 'cc', 'cf')
  local cc, cf = tonumber(v[2] or '0'), tonumber(v[3] or '0')
  if v[1] and tonumber(v[1]) ~= m then
    local gap = math.min(m - tonumber(v[1]), METRICS_MAX)
    rcall('LPUSH', K_METRICS, int(cc) .. ' ' .. int(cf))
    for _ = 2, gap do rcall('LPUSH', K_METRICS, '0 0') end
    rcall('LTRIM', K_METRICS, 0, METRICS_MAX - 2)
    cc, cf = 0, 0
  end
  if failed then cf = cf + 1 else cc = cc + 1 end
  rcall('HSET', K_META, 'cm', m, 'cc', cc, 'cf', cf)
end

-- finish files a finished job in its set, or deletes it, per retention.
local function finish(id, st, zkey, remove, keep_last, keep_for)
  st.ft = NOW
  if remove then
    delete_job(id)
    return
  end
  put_state(id, st)
  rcall('ZADD', zkey, int(NOW * SEQ_SPAN + next_seq('sq', SEQ_SPAN)), id)
  retain(zkey, keep_last, keep_for)
end

-- unlock takes an active job out of active and drops its lock.
local function unlock(id)
  rcall('LREM', K_ACTIVE, 1, id)
  rcall('HDEL', K_LOCKS, id)
end
