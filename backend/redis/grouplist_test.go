package redisbackend_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/internal/redistest"
)

// TestGroupListWalksInSteps lists more groups than one script call scans
// (the meta hash is a real hash table past 512 fields, so HSCAN returns it
// in steps): the merged top is right, and a large limit sees every group
// once, however the steps fell.
func TestGroupListWalksInSteps(t *testing.T) {
	ctx := context.Background()
	rdb := testClient(redistest.Addr(t))
	be := newBackend(t, rdb)
	const groups = 1500
	var items []backend.JobAddItem
	for g := 0; g < groups; g++ {
		n := 1
		if g%300 == 7 { // five groups with more waiting jobs than the rest
			n = 2 + g/300
		}
		for i := 0; i < n; i++ {
			items = append(items, backend.JobAddItem{Name: "j", Data: []byte(`{}`), Options: backend.JobOptions{Attempts: 1, Group: fmt.Sprintf("g%04d", g)}})
		}
	}
	for len(items) > 0 {
		n := min(len(items), 500)
		_, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: "many-groups", Jobs: items[:n]})
		require.NoError(t, err)
		items = items[n:]
	}
	require.NoError(t, rdb.ConfigSet(ctx, "slowlog-log-slower-than", "0").Err())
	require.NoError(t, rdb.SlowLogReset(ctx).Err())
	top, err := be.GroupList(ctx, &backend.GroupListParams{Queue: "many-groups", Limit: 5})
	require.NoError(t, err)
	logs, err := rdb.SlowLogGet(ctx, 1000).Result()
	require.NoError(t, err)
	calls := 0
	for _, l := range logs {
		for _, a := range l.Args {
			if a == "list" {
				calls++
				t.Logf("one step: %v", l.Duration)
			}
		}
	}
	require.GreaterOrEqual(t, calls, 3, "the walk is cut in steps")
	var names []string
	for _, g := range top {
		names = append(names, g.Group)
	}
	require.Equal(t, []string{"g1207", "g0907", "g0607", "g0307", "g0007"}, names, "most waiting first")
	require.EqualValues(t, 6, top[0].Waiting)

	all, err := be.GroupList(ctx, &backend.GroupListParams{Queue: "many-groups", Limit: 10000})
	require.NoError(t, err)
	require.Len(t, all, groups)
	seen := map[string]bool{}
	for _, g := range all {
		require.False(t, seen[g.Group], "group %s listed twice", g.Group)
		seen[g.Group] = true
	}
}
