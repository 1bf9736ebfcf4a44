package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The Postgres table takes fila's postgres figures (not redis's) and River's
// two configurations, with ratios known by hand.
func TestPGTable(t *testing.T) {
	run := &benchRun{
		PostgresVersion: "15.20",
		Fila: []result{
			{Scenario: "add", Variant: "sequential", Backend: "postgres", Concurrency: 1, JobsPerSec: 2000},
			{Scenario: "add", Variant: "sequential", Backend: "redis", Concurrency: 1, JobsPerSec: 9000},
			{Scenario: "process", Variant: "remove on complete", Backend: "postgres", Concurrency: 100, JobsPerSec: 3000},
			{Scenario: "latency", Backend: "postgres", Concurrency: 10, P50ms: ptr(4.0), P99ms: ptr(8.0),
				Extra: map[string]float64{"start_p50_ms": 2.0, "start_p99_ms": 6.0}},
		},
		Peers: map[string]peerOutput{"river": {Version: "v0.51.2", Results: map[string]map[string]any{
			"a_insert_sequential":              {"median": 1000.0},
			"c_proc_c100_default":              {"median": 1000.0},
			"c_proc_c100_cooldown1ms":          {"median": 6000.0},
			"d_latency_p50_start_default":      {"median": 400.0},
			"d_latency_p50_start_cooldown1ms":  {"median": 8.0},
			"d_latency_p99_completed_default":  {"median": 800.0},
			"d_latency_p99_completed_cooldown": {"median": 1.0}, // not the 1ms case's name
		}}},
	}
	require.Equal(t, []int{100}, pgConcurrencies(run.Fila))
	tab := buildPGTable(run, []int{100})
	rows := map[string]pgRow{}
	for _, r := range tab.Rows {
		rows[r.Case] = r
	}
	require.Equal(t, pgRow{"add, one at a time", "jobs/s", 2000, 1000, 0}, rows["add, one at a time"])
	require.Equal(t, pgRow{"process, conc 100, fila remove on complete", "jobs/s", 3000, 1000, 6000}, rows["process, conc 100, fila remove on complete"])
	require.Equal(t, pgRow{"idle worker, add to start, p50", "ms", 2, 400, 8}, rows["idle worker, add to start, p50"])
	require.Equal(t, 800.0, rows["idle worker, add to completed, p99"].River)
	var buf bytes.Buffer
	tab.write(&buf)
	out := buf.String()
	require.Contains(t, out, "| process, conc 100, fila remove on complete (jobs/s) | 3,000 | 1,000 | 6,000 | 3.00x | 0.50x |")
	require.Contains(t, out, "| idle worker, add to start, p50 (ms) | 2.00 | 400.00 | 8.00 | 200.00x | 4.00x |")
	require.True(t, strings.Contains(out, "PostgreSQL 15.20"))
}
