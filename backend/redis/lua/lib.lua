-- lib.lua: state and helpers shared by every fila script. It is prepended to
-- each script when the backend loads it, so every script sees the same key layout.
--
-- KEYS, in the same order for every script. All keys of one queue share the
-- hash tag {queue} (or the queue's WithHashTag tag), so every script is
-- single-slot and valid on Redis Cluster; no key name is built inside a
-- script, except another queue's by a flow linking queues (lib_flows.lua,
-- in_queue), which the backend allows only where Redis does (redis.go,
-- FlowsSpanQueues). Every script takes all
-- 14 but the adds: add.lua takes the first 8, the keys an add can touch,
-- and add1.lua the first 6, those of an add without delay or dedup id: Redis
-- turns each argument into a Lua string and a table entry, about 1,100
-- instructions each, a tenth of an add (scripts.go, keysFor). With job
-- buckets (redisbackend.WithJobBuckets(n), n > 1) the job fields are spread
-- over n hashes; bucket 0 is KEYS[4], the one-bucket jobs hash, and buckets
-- 1..n-1 follow the last fixed key (KEYS[15..] for every script, KEYS[9..]
-- for add.lua, KEYS[7..] for add1.lua). jk(id) picks a job's bucket.
--  1 wait       list   ready jobs without priority; the consuming end is the right
--  2 paused     list   the waiting list while the queue is paused (renamed from wait)
--  3 prio       zset   prioritized jobs, score (priority-1)*2^32 + sequence: exact
--                       below 2^53 up to the largest priority, 2^21
--  4 jobs       hash   every per-job field, by prefix (bucket 0 of n: see jk):
--                         j:<id>  record "<added_ms>:<priority>:<lifo>:<body>", written once
--                         s:<id>  state "<S> <started> <made> <stalled> <processed_ms> <finished_ms>
--                                 <due_ms> <lock_expires_ms> <lock token>"; S is W waiting,
--                                 P prioritized, D delayed, A active, C completed, F failed,
--                                 K waiting for children (a flow parent: lib_flows.lua).
--                                 Absent for a job that has not moved since its add.
--                         r:<id>  return value      e:<id>  last failed reason
--                         t:<id>  stacks (JSON)     p:<id>  progress
--                         l:<id>  log lines, each "<length>:<line>"
--                         d:<dedup id>  the job that used a dedup id
--                         g:<id>  group, or a flow node's links (lib_flows.lua)
--  5 meta       hash   the switches every script may read (meta()): paused; fd, fs (the
--                       fed prioritized job in wait and its score);
--                       hp (prioritized jobs may exist: set on every add to prio,
--                       cleared when feed finds the set empty);
--                       mk (a wake marker is out: see meta_mk); nd (a time no later than the
--                       earliest delayed job, -1 when none; absent when unknown);
--                       rl (rate limited until ms); and fields read by the scripts
--                       that need them: pc (priority sequence); id (last generated
--                       id); sg (next stalled check ms); cm, cc, cf (metrics: current
--                       minute and its counts); fq (sequence ordering finishes
--                       within a millisecond); nb (the job bucket count: check_layout)
--  6 events     stream the event log, capped near ARGV[1] entries; an entry
--                       holds the events of one script run, up to 16 (write_events)
--  7 delayed    zset   delayed jobs, score due_ms*4096 + sequence%4096
--  8 dedup      zset   dedup id -> expiry ms; also "\2<id>" -> FLOW_BASE + added ms for
--                       each flow parent in waiting-children (lib_flows.lua)
--  9 active     list   claimed jobs (claims push on the left)
-- 10 completed  zset   completed jobs, score finish_ms*4096 + sequence%4096
-- 11 failed     zset   failed jobs, same scoring
-- 12 limiter    zset   sliding log of claim times for the global rate limit
-- 13 stalled    set    ids marked by the last stalled check
-- 14 metrics    list   "<completed> <failed>" per past minute, newest first
--
-- ARGV[1] is the event stream's approximate maximum length and ARGV[2] the
-- number of per-minute metric points kept; each script's own ARGV follow.
-- A script's file is its body: init(KEYS, ARGV) runs before it.
--
-- Priority design (see doc.go): a blocked BLMOVE can only see the wait list,
-- so when wait holds no job without priority, feed() moves the best
-- prioritized job to wait's consuming end and records it as "fed". A job
-- without priority entering wait first takes the fed job back (unfeed), so
-- priority-0 jobs always run first and prioritized jobs run in order.
--
-- Cost: redis.call is the expensive part of a script, so each script reads a
-- job with one HMGET, the queue's switches with one lazy HMGET, and writes
-- each only once.

-- Per-call state. init sets it at the start of every script run: it is the
-- same code whether the scripts run through EVAL (init is called at the top
-- of each script) or as a Redis function library loaded once (init is called
-- at the top of each registered function), where nothing but function
-- definitions may run at load time.
local K_WAIT, K_PAUSED, K_ACTIVE, K_PRIO, K_DELAYED
local K_COMPLETED, K_FAILED, K_JOBS, K_META, K_DEDUP
local K_LIMITER, K_STALLED, K_EVENTS, K_METRICS
local JB, NB  -- the job buckets (JB[0] is K_JOBS) and their number
local JK_ID, JK_KEY -- the last id jk looked up and its bucket
local EVENTS_MAX, METRICS_MAX, NOW, NOW_S -- NOW_S: NOW as a string
local M       -- the queue's switches, loaded by meta() (or only paused and fd, by meta_pf())
local M_ALL   -- M holds every switch
local WAKE    -- a delayed job became the earliest in this run: done may push a wake marker
local FQ, FQ_SET -- meta fq, loaded by order_score; FQ changed in this run
local RETAIN  -- retention rules to apply at the end of the run, or nil
local DONE_C, DONE_F -- completed and failed jobs counted in this run, written at its end
local EV, EVN -- events of this run, flat {type, job id, data, ...} in EV[1..EVN], written at its end
local XQ      -- the state of each queue a run went into, by key base (lib_flows.lua, in_queue)

local MARKER = '0' -- wakes a blocked claim; never a job id (generated ids start at 1)
local TOKEN = '\1' -- starts a group's token in the ready list; never a job id (no control characters)
-- Defined in groups.lua, which follows this file.
local group_push, group_full, group_add, group_leave, group_claim, group_token_back, is_token
local group_limit, group_wake
-- Defined in lib_flows.lua, which follows groups.lua.
local flow_state, flow_child_done, flows_init
local GX_D -- the change of meta Gx in this run (groups.lua), written by done
local SEQ_SPAN = 4096
local PRIO_SPAN = 4294967296

local rcall -- redis.call, which does not exist while a function library loads

-- KEYS_ONLY is true in the variant of the scripts that declares Upstash's
-- allow-key-locking (scripts.go, withKeyLocking, rewrites this line): a
-- script may then touch only the keys in KEYS, so it cannot reach the other
-- queues of a flow across queues (lib_flows.lua, in_queue).
local KEYS_ONLY = false

-- check_layout makes sure the queue's job fields are spread over as many
-- buckets as this call passes (meta nb), and records the count on a new
-- queue; a queue without the record whose jobs hash or meta exists was
-- made before buckets existed, with one. The backend asks for it on its
-- first call on a queue (ARGV[2] ends in 'L'). It runs before the script
-- writes anything, and a mismatch raises an error the backend reports as
-- ErrLayout: a script with the wrong buckets would miss the queue's jobs.
-- queue names a queue other than the call's (in_queue), for the error.
local function check_layout(queue)
  local want = string.format('%d', NB)
  local v = rcall('HMGET', K_META, 'nb', 'tg')
  local nb = v[1]
  -- tg: a backend with WithHashTag keeps this queue under that tag and
  -- marked its default layout so (registry.lua); this call looks here.
  if v[2] then error('FILA_TAGGED ' .. #v[2] .. ':' .. v[2] .. ' queue=' .. (queue or '')) end
  if not nb then
    if NB == 1 or rcall('EXISTS', K_JOBS, K_META) == 0 then
      rcall('HSET', K_META, 'nb', want)
      return
    end
    nb = '1'
  end
  if nb ~= want then
    local which = ''
    if queue then which = ' queue=' .. queue end
    error('FILA_LAYOUT stored=' .. nb .. ' backend=' .. want .. which)
  end
end

-- bind points the K_ names at a queue's keys: fixed is how many of keys
-- are its fixed keys (14, or 8 for add.lua); the rest are job buckets
-- 1..n-1.
local function bind(keys, fixed)
  K_WAIT, K_PAUSED, K_PRIO, K_JOBS, K_META = keys[1], keys[2], keys[3], keys[4], keys[5]
  K_EVENTS, K_DELAYED, K_DEDUP, K_ACTIVE, K_COMPLETED = keys[6], keys[7], keys[8], keys[9], keys[10]
  K_FAILED, K_LIMITER, K_STALLED, K_METRICS = keys[11], keys[12], keys[13], keys[14]
  if fixed < 14 then
    -- The adds take fewer keys, and job buckets follow them: the keys an
    -- add does not take stay unset, so a call on one fails loudly
    -- instead of writing to a bucket.
    K_ACTIVE, K_COMPLETED, K_FAILED, K_LIMITER, K_STALLED, K_METRICS = nil, nil, nil, nil, nil, nil
    if fixed < 8 then K_DELAYED, K_DEDUP = nil, nil end
  end
  NB = #keys - fixed + 1
  JK_ID = nil
  if NB > 1 then
    JB = {[0] = K_JOBS}
    for i = 1, NB - 1 do JB[i] = keys[fixed + i] end
  end
end

-- fresh clears what a run on a queue has loaded and owes its queue's
-- done: init, a run's visit to another queue (lib_flows.lua, in_queue),
-- and obliterate.lua, whose queue is gone, use it.
local function fresh()
  M, M_ALL, FQ, FQ_SET, RETAIN, DONE_C, DONE_F, EVN, WAKE, GX_D = nil, false, nil, false, nil, 0, 0, 0, false, 0
end

-- linked reports whether the queue holds flow links to other queues (meta
-- xq, set by flow_add.lua): lib_flows.lua.
local function linked() return rcall('HEXISTS', K_META, 'xq') == 1 end

-- init starts a run on keys (see bind).
local function init(keys, argv, fixed)
  rcall = redis.call
  bind(keys, fixed)
  -- A queue holding links to other queues (lib_flows.lua, meta xq) cannot
  -- be worked on by a script that may touch only its KEYS: refused before
  -- anything is written, on every call (Upstash under key locking only).
  if KEYS_ONLY and linked() then error('FILA_XQ') end
  EVENTS_MAX, METRICS_MAX = argv[1], argv[2]
  if string.sub(METRICS_MAX, -1) == 'L' then
    METRICS_MAX = string.sub(METRICS_MAX, 1, -2)
    check_layout()
  end
  -- NOW is built as a string (seconds and the microseconds' leading three
  -- digits) and read once: Lua converts between strings and numbers
  -- through the C library, at a cost of a Redis command each.
  local t = rcall('TIME')
  NOW_S = t[1] .. string.sub('00000' .. t[2], -6, -4)
  NOW = tonumber(NOW_S)
  fresh()
  XQ = nil
  if not EV then EV = {} end
end

-- jk returns the hash holding the fields of job (or dedup id) id: K_JOBS
-- with one bucket, else bucket h(id) mod NB. h is a polynomial hash of the
-- id's bytes modulo the prime 2^31-1 followed by two Lehmer steps (48271),
-- exact in Lua's doubles: sequential ids ("1", "2"...) and ids sharing a
-- long prefix spread evenly (a bare polynomial hash did not: with
-- multiplier 31, which is -1 mod 32, the largest of 32 buckets held 60%
-- more than the mean). Go never needs the bucket: it passes every bucket
-- in KEYS. The hash must never change, or jobs would be looked for in
-- another bucket.
local JK_P = 2147483647
local function jk(id)
  if NB == 1 then return K_JOBS end
  if id == JK_ID then return JK_KEY end
  local h = 0
  for i = 1, #id do h = (h * 257 + string.byte(id, i)) % JK_P end
  h = (h * 48271) % JK_P
  h = (h * 48271) % JK_P
  JK_ID, JK_KEY = id, JB[h % NB]
  return JK_KEY
end

-- int renders a whole number for Redis. Integer formatting: Lua's own
-- number-to-string conversion (and '%.0f') goes through the C library's
-- floating-point printing, which was a tenth of Redis' time per job. Pass
-- numbers to redis.call as strings for the same reason: Redis prints a Lua
-- number with '%.17g'.
local function int(x) return string.format('%d', x) end

-- after_now reports whether a time in ms, as a string without leading
-- zeros, is later than NOW, without converting it.
local function after_now(ms)
  return #ms > #NOW_S or (#ms == #NOW_S and ms > NOW_S)
end

-- small renders a small whole number (a length, a count) from a cache:
-- Lua renders a number through the C library's floating-point printing,
-- and a job reply alone has seven length prefixes. In a function library
-- the cache lives as long as the library; as an EVAL script, for one call.
local SMALL = {}
local function small(n)
  local v = SMALL[n]
  if not v then
    v = int(n)
    if n >= 0 and n < 4096 then SMALL[n] = v end
  end
  return v
end

-- len is #s as a string, for length prefixes; it reads small's cache
-- itself, saving a call per prefix (a job reply has seven).
local function len(s) return SMALL[#s] or small(#s) end

-- succ is a count kept as a string, plus one, from a cache like small's.
local SUCC = {}
local function succ(s)
  local v = SUCC[s]
  if not v then
    v = int(tonumber(s) + 1)
    if #s < 4 then SUCC[s] = v end
  end
  return v
end

-- num reads a whole-number argument through a cache: a worker sends the
-- same few values (lock ms, retention, limits) in every call. The cache
-- holds up to NUM_MAX short values; in a function library it lives as long
-- as the library.
local NUM, NUM_N, NUM_MAX = {}, 0, 1024
local function num(s)
  local v = NUM[s]
  if v then return v end
  v = tonumber(s)
  if v and NUM_N < NUM_MAX and #s <= 8 then
    NUM[s] = v
    NUM_N = NUM_N + 1
  end
  return v
end

-- meta loads the queue's switches into M once per run. Each field read
-- costs, so the metrics fields are read only where they are used, and an
-- add, which needs only paused and fd, reads only those (meta_pf). M
-- mirrors every write to meta, so reading the rest later is consistent.
local function meta()
  if not M_ALL then
    local v = rcall('HMGET', K_META, 'paused', 'fd', 'rl', 'nd', 'hp', 'cm', 'ev')
    local rl, nd = v[3], v[4]
    if rl then rl = tonumber(rl) else rl = 0 end
    if nd == '-1' then nd = -1 elseif nd then nd = tonumber(nd) end
    -- mk and fs: see meta_mk and fed_score; cm (the metrics' minute, a
    -- string) is read here because a finish is mostly followed by a claim.
    M = {paused = v[1] ~= false, fd = v[2], rl = rl, nd = nd, hp = v[5] ~= false, cm = v[6], ev = v[7]}
    M_ALL = true
  end
  return M
end

-- meta_mk reports whether a wake marker is out (meta mk): in wait (or
-- paused), or in active from a claim's BLMOVE until its claim_moved takes
-- it out, so it does not say the marker is in wait. Read when first
-- needed: few runs need it.
local function meta_mk()
  local m = meta()
  if m.mk == nil then m.mk = rcall('HEXISTS', K_META, 'mk') == 1 end
  return m.mk
end

-- fed_score returns the fed job's priority score (meta fs), read when
-- first needed.
local function fed_score()
  local m = meta()
  if m.fs == nil then m.fs = rcall('HGET', K_META, 'fs') end
  return m.fs
end

-- meta_pf returns M with at least paused, fd and ev loaded.
local function meta_pf()
  if not M then
    local v = rcall('HMGET', K_META, 'paused', 'fd', 'ev')
    M = {paused = v[1] ~= false, fd = v[2], ev = v[3]}
  end
  return M
end

-- READERS_MS is how long a reader's mark (meta ev) keeps events recorded:
-- every read of the queue's events (cursor.lua, events.lua, and the
-- backend's blocking reads, which call cursor.lua at least once a minute)
-- sets ev to NOW + READERS_MS.
local READERS_MS = 300000

-- readers reports whether someone read the queue's events in the last
-- READERS_MS: write_events records a run's events only then. The stream
-- was the costliest write of an add (XADD: 13,000 of an add's 119,000
-- instructions) and of a finish, for events nobody reads.
local function readers()
  local ev = meta_pf().ev
  return ev ~= nil and ev ~= false and after_now(ev)
end

-- mark_readers records a reader of the queue's events (see readers).
local function mark_readers()
  local until_ms = int(NOW + READERS_MS)
  rcall('HSET', K_META, 'ev', until_ms)
  local m = M
  if m then m.ev = until_ms end
end

local function set_meta(field, value)
  rcall('HSET', K_META, field, value)
end

local function is_paused() return meta_pf().paused end

-- emit records an event; the run's events are written when it ends.
local function emit(typ, id, data)
  local n = EVN
  EV[n + 1], EV[n + 2], EV[n + 3] = typ, id, data or ''
  EVN = n + 3
end

-- EVENTS_PER_ENTRY bounds the events one stream entry carries, so the
-- stream's MAXLEN (in entries) still bounds its memory.
local EVENTS_PER_ENTRY = 16

-- event_part renders one event for field m: "<len>:<type><len>:<job id>
-- <len>:<data>" (not string.format: %s stops at a NUL). A type's prefix is
-- rendered once and kept, like small's cache.
local EVENT_TYPE = {}
local function event_part(t, j, d)
  local p = EVENT_TYPE[t]
  if not p then
    p = len(t) .. ':' .. t
    EVENT_TYPE[t] = p
  end
  if d == '' then return p .. len(j) .. ':' .. j .. '0:' end
  return p .. len(j) .. ':' .. j .. len(d) .. ':' .. d
end

-- write_events appends the run's events to the stream: one event as an
-- entry of its own (fields e, j and d when it has data), several as
-- entries of up to EVENTS_PER_ENTRY events, each in one field m: the
-- events' parts in order. XADD was the costliest command of a job's
-- path; a batch of finishes now pays one.
local function write_events()
  local n = EVN / 3
  if n == 0 then return end
  if not readers() then
    EVN = 0
    return
  end
  if n == 1 then
    if EV[3] ~= '' then
      rcall('XADD', K_EVENTS, 'MAXLEN', '~', EVENTS_MAX, '*', 'e', EV[1], 'j', EV[2], 'd', EV[3])
    else
      rcall('XADD', K_EVENTS, 'MAXLEN', '~', EVENTS_MAX, '*', 'e', EV[1], 'j', EV[2])
    end
  elseif n == 2 then -- a finish and the next claim
    rcall('XADD', K_EVENTS, 'MAXLEN', '~', EVENTS_MAX, '*', 'm',
      event_part(EV[1], EV[2], EV[3]) .. event_part(EV[4], EV[5], EV[6]))
  elseif n > 2 then
    for first = 1, n, EVENTS_PER_ENTRY do
      local parts = {}
      for k = first, math.min(n, first + EVENTS_PER_ENTRY - 1) do
        parts[#parts + 1] = event_part(EV[3 * k - 2], EV[3 * k - 1], EV[3 * k])
      end
      rcall('XADD', K_EVENTS, 'MAXLEN', '~', EVENTS_MAX, '*', 'm', table.concat(parts))
    end
  end
  EVN = 0
end

-- Job records and states, and the ready lists, continue in lib_jobs.lua;
-- delayed jobs, the limiter and claims in lib_claim.lua; the finishing
-- functions in lib_finish.lua: scripts.go loads the four as one chunk, in
-- that order.
