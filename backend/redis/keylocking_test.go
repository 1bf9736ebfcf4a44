package redisbackend

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every builtin script has a key-locking variant built from the same
// source: only the shebang differs, and it runs with EVALSHA under its own
// hash. An application's script is left as its author wrote it.
func TestKeyLockingVariants(t *testing.T) {
	s := loadScripts()
	all := []*Script{s.add, s.claim, s.claimMoved, s.unclaim, s.finish, s.release, s.extend, s.stalled, s.progress,
		s.log, s.logs, s.get, s.list, s.remove, s.retry, s.promote, s.events, s.cursor, s.counts, s.info, s.pause,
		s.ratelimit, s.drain, s.clean, s.obliterate, s.metrics, s.registry, s.add1, s.sched, s.schedRead, s.group,
		s.cancel, s.cancelled, s.flowAdd, s.flowChildren}
	for _, sc := range all {
		k := sc.KeyLocking()
		require.NotSame(t, sc, k, sc.Name())
		require.Equal(t, keyLockingShebang+strings.Replace(sc.Source(), keysOnlyOff, keysOnlyOn, 1), k.Source(), sc.Name())
		if sc != s.registry {
			require.Contains(t, k.Source(), keysOnlyOn, "%s: the variant refuses flows across queues", sc.Name())
		}
		require.NotEqual(t, sc.Hash(), k.Hash(), sc.Name())
		require.False(t, strings.HasPrefix(sc.Source(), "#!"), "the plain variant, which redis-server runs, has no shebang: %s", sc.Name())
		require.Equal(t, sc.Name(), k.Name())
		require.Equal(t, sc.Builtin(), k.Builtin())
		require.Equal(t, sc.readies, k.readies, sc.Name())
		require.Equal(t, sc.keys, k.keys, sc.Name())
	}
	app := NewScript("app", "return 1")
	require.Same(t, app, app.KeyLocking())
}
