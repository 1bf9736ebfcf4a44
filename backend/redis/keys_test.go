package redisbackend

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// add takes only the first keys of a queue: the boxed form of a key slice
// must be cached per length, or an add would send all 14 keys, or a later
// script only add's.
func TestCommandBoxesEachKeyPrefixApart(t *testing.T) {
	c := &goredisConn{}
	q := &queueInfo{keys: []string{"a", "b", "c", "d"}}
	add := &Script{keys: 2}
	all := &Script{}
	for range 2 {
		require.Equal(t, []any{"fcall", "f", 2, "a", "b", "x"}, c.command("fcall", "f", q.keysFor(add), []any{"x"}))
		require.Equal(t, []any{"fcall", "f", 4, "a", "b", "c", "d", "x"}, c.command("fcall", "f", q.keysFor(all), []any{"x"}))
	}
}

// The scripts can reach only the keys they are given: add.lua's must be
// the first keyNames, and BLMOVE and XREAD's keys must be where redis.go
// says they are.
func TestKeyOrderMatchesLib(t *testing.T) {
	require.Equal(t, []string{"wait", "paused", "prio", "delayed", "jobs", "meta", "dedup", "events"}, keyNames[:addKeys])
	require.Equal(t, "wait", keyNames[keyWait])
	require.Equal(t, "active", keyNames[keyActive])
	require.Equal(t, "events", keyNames[keyEvents])
	require.Equal(t, addKeys, loadScripts().add.keys)
}
