package upstashemu

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
)

// Key-level locking (upstash/docs redis/features/key-locking.mdx): a script
// whose shebang declares "allow-key-locking" runs under a lock on its KEYS
// only, and may touch no other key. redis-server (7.0) and miniredis refuse
// the flag, so the emulator, like uprest, takes it out of the shebang before
// forwarding the script and maps the hash the client computed over the
// original source (for EVALSHA) to the hash of what it forwarded. It also
// enforces the rule: the forwarded script starts with keyGuard, which
// shadows redis.call and redis.pcall with versions that raise an error when
// a command names a key that is not in KEYS. Scripts without the flag run
// unchanged, under the (here imaginary) global lock.

const lockingFlag = "allow-key-locking"

// keyGuard is Lua on one line, so the script's own line numbers stay as
// they were (it replaces the shebang line). It declares a local "redis"
// for the whole chunk: every function defined below it, and everything
// that copies redis.call, gets the guarded version.
//
// spec_of gives a command's key positions among its arguments (after the
// command name) as Redis' legacy key specs do: first, last (negative:
// counted from the end) and step, found by a plain search of the name
// lists (building a table of every name on each run made scripts several
// times slower on miniredis); a command in no list is an error,
// so a script cannot slip past the guard with a command it does not know.
// XREAD and XREADGROUP (keys after STREAMS) and the numkeys commands are
// handled by name.
var keyGuard = strings.Join(strings.Fields(`
local redis = (function(r)
  local declared = {}
  for _, k in ipairs(KEYS) do declared[k] = true end
  local one = ' APPEND DECR DECRBY EXPIRE EXPIREAT GET GETDEL GETSET HDEL HEXISTS HGET HGETALL HINCRBY HINCRBYFLOAT HKEYS HLEN HMGET HMSET HRANDFIELD HSCAN HSET HSETNX HSTRLEN HVALS INCR INCRBY INCRBYFLOAT LINDEX LINSERT LLEN LPOP LPOS LPUSH LPUSHX LRANGE LREM LSET LTRIM PERSIST PEXPIRE PEXPIREAT PSETEX PTTL RPOP RPUSH RPUSHX SADD SCARD SET SETEX SETNX SISMEMBER SMEMBERS SMISMEMBER SPOP SRANDMEMBER SREM SSCAN STRLEN TTL TYPE XACK XADD XDEL XLEN XRANGE XREVRANGE XTRIM ZADD ZCARD ZCOUNT ZINCRBY ZLEXCOUNT ZMSCORE ZPOPMAX ZPOPMIN ZRANDMEMBER ZRANGE ZRANGEBYLEX ZRANGEBYSCORE ZRANK ZREM ZREMRANGEBYLEX ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREVRANGE ZREVRANGEBYLEX ZREVRANGEBYSCORE ZREVRANK ZSCAN ZSCORE '
  local lists = {
    {' TIME PING ECHO ', 0, 0, 1},
    {' DEL EXISTS MGET SDIFF SDIFFSTORE SINTER SINTERSTORE SUNION SUNIONSTORE TOUCH UNLINK ', 1, -1, 1},
    {' COPY LMOVE RENAME RENAMENX RPOPLPUSH SMOVE ZRANGESTORE ', 1, 2, 1},
    {' MSET MSETNX ', 1, -1, 2},
  }
  local spec = {}
  local function spec_of(name)
    local s = spec[name]
    if s ~= nil then return s end
    local padded = ' ' .. name .. ' '
    if string.find(one, padded, 1, true) then s = {1, 1, 1} end
    for _, l in ipairs(lists) do
      if s == nil and string.find(l[1], padded, 1, true) then s = {l[2], l[3], l[4]} end
    end
    spec[name] = s or false
    return spec[name]
  end
  local function keys_of(name, args)
    local out = {}
    if name == 'XREAD' or name == 'XREADGROUP' then
      for i = 1, #args do
        if string.upper(tostring(args[i])) == 'STREAMS' then
          local n = math.floor((#args - i) / 2)
          for j = i + 1, i + n do out[#out + 1] = args[j] end
          return out
        end
      end
      return out
    end
    if name == 'ZUNIONSTORE' or name == 'ZINTERSTORE' or name == 'ZDIFFSTORE' then
      out[1] = args[1]
      for j = 3, 2 + (tonumber(args[2]) or 0) do out[#out + 1] = args[j] end
      return out
    end
    if name == 'ZUNION' or name == 'ZINTER' or name == 'ZDIFF' or name == 'ZINTERCARD' or name == 'SINTERCARD' then
      for j = 2, 1 + (tonumber(args[1]) or 0) do out[#out + 1] = args[j] end
      return out
    end
    local s = spec[name]
    if s == nil then s = spec_of(name) end
    if not s then
      error('emulator key guard: no key positions known for ' .. name .. ' (add them to internal/upstashemu keyGuard)')
    end
    if s[1] == 0 then return out end
    local last = s[2]
    if last < 0 then last = #args + 1 + last end
    for j = s[1], last, s[3] do out[#out + 1] = args[j] end
    return out
  end
  local names = {}
  local function check(cmd, k, ...)
    local name = names[cmd]
    if name == nil then name = string.upper(tostring(cmd)) names[cmd] = name end
    local sp = spec[name]
    if sp == nil then sp = spec_of(name) end
    if sp and sp[1] == 1 and sp[2] == 1 then
      if declared[k] then return end
      error('emulator key guard: ' .. name .. ' touches key ' .. tostring(k) .. ', which the script did not declare in KEYS (allow-key-locking)')
    end
    for _, key in ipairs(keys_of(name, {k, ...})) do
      if not declared[key] then
        error('emulator key guard: ' .. name .. ' touches key ' .. tostring(key) .. ', which the script did not declare in KEYS (allow-key-locking)')
      end
    end
  end
  return setmetatable({
    call = function(cmd, ...) check(cmd, ...) return r.call(cmd, ...) end,
    pcall = function(cmd, ...) check(cmd, ...) return r.pcall(cmd, ...) end,
  }, {__index = r})
end)(redis)
`), " ")

// scripts remembers, for each key-locking script the emulator forwarded,
// the hash the client knows it by and the hash Redis knows.
type scripts struct {
	mu     sync.Mutex
	byHash map[string]string // the client's SHA1 -> the forwarded script's SHA1
}

// rewrite returns src as the emulator forwards it: a script whose shebang
// declares allow-key-locking loses the flag (and the shebang when no other
// flag is left) and gains keyGuard in its place. Other scripts come back
// unchanged.
func rewrite(src string) (string, bool) {
	if !strings.HasPrefix(src, "#!") {
		return src, false
	}
	line, rest, _ := strings.Cut(src, "\n")
	fields := strings.Fields(line)
	var kept []string
	locking := false
	for _, f := range fields {
		flags, ok := strings.CutPrefix(f, "flags=")
		if !ok {
			kept = append(kept, f)
			continue
		}
		var others []string
		for _, fl := range strings.Split(flags, ",") {
			if fl == lockingFlag {
				locking = true
			} else if fl != "" {
				others = append(others, fl)
			}
		}
		if len(others) > 0 {
			kept = append(kept, "flags="+strings.Join(others, ","))
		}
	}
	if !locking {
		return src, false
	}
	if len(kept) == 1 { // "#!lua" alone: drop it, miniredis does not parse shebangs
		return keyGuard + "\n" + rest, true
	}
	// The guard cannot share the shebang's line: it goes first on the next.
	return strings.Join(kept, " ") + "\n" + keyGuard + " " + rest, true
}

func sha1hex(s string) string {
	sum := sha1.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// translate rewrites EVAL, EVALSHA (and their _RO forms) and SCRIPT LOAD of
// key-locking scripts as described above; every other command passes as
// it is.
func (sc *scripts) translate(args []any) []any {
	name := strings.ToUpper(args[0].(string))
	switch {
	case (name == "EVAL" || name == "EVAL_RO") && len(args) > 1:
		src := fmt.Sprint(args[1])
		out, locking := rewrite(src)
		if !locking {
			return args
		}
		sc.remember(sha1hex(src), sha1hex(out))
		args = append([]any(nil), args...)
		args[1] = out
	case (name == "EVALSHA" || name == "EVALSHA_RO") && len(args) > 1:
		sc.mu.Lock()
		h, ok := sc.byHash[strings.ToLower(fmt.Sprint(args[1]))]
		sc.mu.Unlock()
		if ok {
			args = append([]any(nil), args...)
			args[1] = h
		}
	case name == "SCRIPT" && len(args) == 3 && strings.EqualFold(fmt.Sprint(args[1]), "LOAD"):
		src := fmt.Sprint(args[2])
		out, locking := rewrite(src)
		if !locking {
			return args
		}
		sc.remember(sha1hex(src), sha1hex(out))
		args = []any{args[0], args[1], out}
	}
	return args
}

func (sc *scripts) remember(client, forwarded string) {
	sc.mu.Lock()
	if sc.byHash == nil {
		sc.byHash = map[string]string{}
	}
	sc.byHash[client] = forwarded
	sc.mu.Unlock()
}

// reply maps the reply v of the client's command args: SCRIPT LOAD of a
// key-locking script answers the hash the client computed, not the
// forwarded script's.
func (sc *scripts) reply(args []any, v any) any {
	if len(args) != 3 || !strings.EqualFold(fmt.Sprint(args[0]), "SCRIPT") || !strings.EqualFold(fmt.Sprint(args[1]), "LOAD") {
		return v
	}
	if _, locking := rewrite(fmt.Sprint(args[2])); locking {
		return sha1hex(fmt.Sprint(args[2]))
	}
	return v
}
