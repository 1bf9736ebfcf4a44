package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/internal/redistest"
)

// fakePeer is a peer program that records how it was called and reports
// 1000 adds/s on its first call, 2000 on its second, and so on.
func fakePeer(calls string) peer {
	return peer{name: "asynq", cases: []string{"add", "proc"}, prepare: func(_ context.Context, _, tmp string) ([]string, error) {
		script := filepath.Join(tmp, "fake.sh")
		src := `#!/bin/sh
echo "RUNS=$RUNS N=$N $*" >> ` + calls + `
k=$(wc -l < ` + calls + `)
printf '{"asynq":"v0","N":%s,"RUNS":%s,"results":{"a_enqueue_sequential":{"median":%s000,"runs":[%s000],"unit":"adds/s","cpu_client_s":%s}}}' "$N" "$RUNS" "$k" "$k" "$k" > "$OUT_JSON"
`
		return []string{script}, os.WriteFile(script, []byte(src), 0o755)
	}}
}

// -peers runs each group of cases once a round: the round-trip limit, then
// fila's cases, then each peer with that group's case names and RUNS=1;
// the run keeps every round and the medians.
func TestCompareRunsEachGroupOnceARound(t *testing.T) {
	redistest.Binary(t) // compare starts its own redis-server
	dir := t.TempDir()
	peersDir := filepath.Join(dir, "peers")
	require.NoError(t, os.MkdirAll(filepath.Join(peersDir, "asynq"), 0o755))
	calls := filepath.Join(dir, "calls")
	out := filepath.Join(dir, "run.json")
	cfg := config{n: 200, producers: 4, runs: 3, payload: 10, latN: 10, latGap: time.Millisecond,
		conc: []int{1}, prefetch: []int{0}, scenarios: map[string]bool{"add": true}}
	require.NoError(t, compare(context.Background(), cfg, compareOptions{peers: []peer{fakePeer(calls)}, peersDir: peersDir, out: out}))

	b, err := os.ReadFile(calls)
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("RUNS=1 N=200 add\n", 3), string(b), "once a round, with the group's cases it has")

	run, err := loadRun(out)
	require.NoError(t, err)
	require.True(t, run.Rounds)
	require.Equal(t, 3, run.Runs)
	require.Len(t, run.RoundTrip, 3, "the limit once a round")
	seq := filaRate("add", "sequential", 1)(run.Fila)
	require.Positive(t, seq)
	for _, r := range run.Fila {
		require.Len(t, r.Runs, 3, "%s %s: every round kept", r.Scenario, r.Variant)
		require.Contains(t, r.Runs, r.JobsPerSec, "the median round's figures")
	}
	a := run.Peers["asynq"].Results["a_enqueue_sequential"]
	require.Equal(t, []any{1000.0, 2000.0, 3000.0}, a["runs"])
	require.Equal(t, 2000.0, a["median"])
	require.Equal(t, 2.0, a["cpu_client_s"], "the median round's other figures")
	require.Equal(t, 3, run.Peers["asynq"].Runs)
}
