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
//
// The floor scripts are made of these parts, so that each differs from
// the five-command one only where it says.
const (
	floorEmpty = `return 1`
	// serverClock reads the time as init does (lib.lua); producerClock
	// takes it from ARGV[1] (in place of the event stream's length, so the
	// call keeps its size).
	serverClock   = "local t = redis.call('TIME')\nlocal now = t[1] .. string.sub('00000' .. t[2], -6, -4)\n"
	producerClock = "local now = ARGV[1]\n"
	// switches reads the pause switch, the fed prioritized job and the
	// events' readers, as meta_pf does.
	switches = "local m = redis.call('HMGET', KEYS[5], 'paused', 'fd', 'ev')\n"
	// serverID makes a numeric id, as new_job does; clientID takes the
	// client's from ARGV[3].
	serverID = "local id = string.format('%d', redis.call('HINCRBY', KEYS[5], 'id', '1'))\n"
	clientID = "local id = ARGV[3]\n"
	// store writes the record, pushes the id and replies as add1.lua does.
	store = "redis.call('HSETNX', KEYS[4], 'j:' .. id, now .. ':' .. ARGV[4] .. ':' .. ARGV[5] .. ':' .. ARGV[6])\n" +
		"redis.call('LPUSH', KEYS[1], id)\n" +
		"return {0, id, 'W', tonumber(now)}\n"

	floorFive   = serverClock + switches + serverID + store
	floorNoTime = producerClock + switches + serverID + store
	floorNoIDs  = producerClock + switches + clientID + store
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
