package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The floor of a single add: scripts that do only the Redis commands an
// add needs with fila's promises kept (the backend's clock, numeric ids,
// the pause switch and a fed prioritized job, read in one HMGET, then the
// record and the push), called with the same 6 keys and 6 arguments as
// add1.lua. What add1.lua costs above floorFive is fila's own Lua (init,
// the switches' bookkeeping, events, done); floorNoTime and floorNoIDs
// are what the two promises cost in Redis.
const (
	floorEmpty = `return 1`
	floorFive  = `local t = redis.call('TIME')
local now = t[1] .. string.sub('00000' .. t[2], -6, -4)
local m = redis.call('HMGET', KEYS[5], 'paused', 'fd', 'ev')
local id = string.format('%d', redis.call('HINCRBY', KEYS[5], 'id', '1'))
redis.call('HSETNX', KEYS[4], 'j:' .. id, now .. ':' .. ARGV[4] .. ':' .. ARGV[5] .. ':' .. ARGV[6])
redis.call('LPUSH', KEYS[1], id)
return {0, id, 'W', tonumber(now)}`
	// The producer's clock: the time comes in ARGV[1] (in place of the
	// event stream's length, so the call keeps its size).
	floorNoTime = `local now = ARGV[1]
local m = redis.call('HMGET', KEYS[5], 'paused', 'fd', 'ev')
local id = string.format('%d', redis.call('HINCRBY', KEYS[5], 'id', '1'))
redis.call('HSETNX', KEYS[4], 'j:' .. id, now .. ':' .. ARGV[4] .. ':' .. ARGV[5] .. ':' .. ARGV[6])
redis.call('LPUSH', KEYS[1], id)
return {0, id, 'W', tonumber(now)}`
	// And ids made by the client, in ARGV[3].
	floorNoIDs = `local now = ARGV[1]
local m = redis.call('HMGET', KEYS[5], 'paused', 'fd', 'ev')
local id = ARGV[3]
redis.call('HSETNX', KEYS[4], 'j:' .. id, now .. ':' .. ARGV[4] .. ':' .. ARGV[5] .. ':' .. ARGV[6])
redis.call('LPUSH', KEYS[1], id)
return {0, id, 'W', tonumber(now)}`
)

// instructions is what countFloor counts with: callgrind's counter, or a
// test's.
type instructions interface {
	zero() error
	dump() (int64, error)
}

// countFloor counts each floor script over n calls, with the body of the
// job the add case stored (queue "add", id 1), so every call carries the
// same bytes as fila's.
func countFloor(ctx context.Context, rdb *redis.Client, c instructions, n int) error {
	rec, err := rdb.HGet(ctx, "fila:{add}:jobs", "j:1").Result()
	if err != nil {
		return fmt.Errorf("the add case's first record: %w", err)
	}
	parts := strings.SplitN(rec, ":", 4)
	if len(parts) != 4 {
		return fmt.Errorf("the add case's first record is not <ms>:<priority>:<lifo>:<body>: %q", rec)
	}
	body := parts[3]
	keys := []string{"{floor}:wait", "{floor}:paused", "{floor}:prio", "{floor}:jobs", "{floor}:meta", "{floor}:events"}
	for _, cs := range []struct {
		name, src string
		keys      []string
		args      func(i int) []any
	}{
		{"empty script, no keys or arguments", floorEmpty, nil, func(int) []any { return nil }},
		{"empty script, the add's keys and args", floorEmpty, keys, func(int) []any { return []any{"10000", "60", "", "0", "0", body} }},
		{"the add's five commands alone", floorFive, keys, func(int) []any { return []any{"10000", "60", "", "0", "0", body} }},
		{"  without TIME (producer's clock)", floorNoTime, keys, func(int) []any {
			return []any{"1765000000123", "60", "", "0", "0", body}
		}},
		{"  and without HINCRBY (client ids)", floorNoIDs, keys, func(i int) []any {
			return []any{"1765000000123", "60", "c" + strconv.Itoa(i), "0", "0", body}
		}},
	} {
		sha, err := rdb.ScriptLoad(ctx, cs.src).Result()
		if err != nil {
			return fmt.Errorf("%s: %w", cs.name, err)
		}
		call := func(i int) error {
			err := rdb.EvalSha(ctx, sha, cs.keys, cs.args(i)...).Err()
			if err == redis.Nil {
				err = nil
			}
			return err
		}
		if err := call(-1); err != nil { // not counted: the first call compiles the script
			return fmt.Errorf("%s: %w", cs.name, err)
		}
		if err := c.zero(); err != nil {
			return err
		}
		for i := range n {
			if err := call(i); err != nil {
				return fmt.Errorf("%s: %w", cs.name, err)
			}
		}
		total, err := c.dump()
		if err != nil {
			return err
		}
		fmt.Printf("%-40s %8d instructions per call\n", cs.name, total/int64(n))
	}
	return nil
}
