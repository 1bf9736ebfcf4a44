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
	q.addKeys = q.keys[:2]
	add := &Script{keys: 2}
	all := &Script{}
	for range 2 {
		require.Equal(t, []any{"fcall", "f", 2, "a", "b", "x"}, c.command("fcall", "f", q.keysFor(add), []any{"x"}))
		require.Equal(t, []any{"fcall", "f", 4, "a", "b", "c", "d", "x"}, c.command("fcall", "f", q.keysFor(all), []any{"x"}))
	}
}

// The scripts can reach only the keys they are given: add.lua's and
// add1.lua's must be the first keyNames, and BLMOVE and XREAD's keys must
// be where redis.go says they are.
func TestKeyOrderMatchesLib(t *testing.T) {
	require.Equal(t, []string{"wait", "paused", "prio", "jobs", "meta", "events", "delayed", "dedup"}, keyNames[:addKeys])
	require.Equal(t, []string{"wait", "paused", "prio", "jobs", "meta", "events"}, keyNames[:add1Keys])
	require.Equal(t, add1Keys, loadScripts().add1.keys)
	require.Equal(t, "wait", keyNames[keyWait])
	require.Equal(t, "active", keyNames[keyActive])
	require.Equal(t, "events", keyNames[keyEvents])
	require.Equal(t, "jobs", keyNames[keyJobs])
	require.Equal(t, "meta", keyNames[keyMeta])
	require.Equal(t, addKeys, loadScripts().add.keys)
}

// With job buckets, bucket 0 is the one-bucket jobs hash and the others
// follow the fixed keys, for add.lua too, as lib.lua's init reads them.
func TestQueueKeysWithBuckets(t *testing.T) {
	keys := queueKeys("p", "q", "", 3)
	adds := firstKeys(keys, addKeys)
	require.Equal(t, []string{
		"p:{q}:wait", "p:{q}:paused", "p:{q}:prio", "p:{q}:jobs", "p:{q}:meta", "p:{q}:events", "p:{q}:delayed",
		"p:{q}:dedup", "p:{q}:active", "p:{q}:completed", "p:{q}:failed", "p:{q}:limiter", "p:{q}:stalled",
		"p:{q}:metrics", "p:{q}:jobs:1", "p:{q}:jobs:2",
	}, keys)
	require.Equal(t, append(append([]string{}, keys[:addKeys]...), "p:{q}:jobs:1", "p:{q}:jobs:2"), adds)
	require.Equal(t, append(append([]string{}, keys[:add1Keys]...), "p:{q}:jobs:1", "p:{q}:jobs:2"), firstKeys(keys, add1Keys))

	keys = queueKeys("p", "q", "", 1)
	require.Len(t, keys, len(keyNames))
	require.Equal(t, "p:{q}:jobs", keys[keyJobs])
	require.Equal(t, keys[:addKeys], firstKeys(keys, addKeys))
}
