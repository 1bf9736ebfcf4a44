package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func ptr(f float64) *float64 { return &f }

// tableRun is a run with round figures, so every ratio is known by hand.
func tableRun() *benchRun {
	return &benchRun{
		N: 20000, Runs: 3, RoundTrip: []float64{9000, 12500, 10000}, // median 10,000
		Fila: []result{
			{Scenario: "add", Variant: "sequential", Backend: "redis", Concurrency: 1, JobsPerSec: 8000},
			{Scenario: "add", Variant: "sequential", Backend: "memory", Concurrency: 1, JobsPerSec: 900000},
			{Scenario: "add", Variant: "50 producers", Backend: "redis", Concurrency: 50, JobsPerSec: 45000},
			{Scenario: "add-bulk", Variant: "bulks of 1000", Backend: "redis", Concurrency: 1, JobsPerSec: 60000},
			{Scenario: "process", Variant: "remove on complete", Backend: "redis", Concurrency: 1, JobsPerSec: 6000},
			{Scenario: "process", Variant: "remove on complete, prefetch 1", Backend: "redis", Concurrency: 1, Prefetch: 1, JobsPerSec: 99999},
			{Scenario: "process", Variant: "keep last 1000", Backend: "redis", Concurrency: 50, JobsPerSec: 30000},
			{Scenario: "latency", Backend: "redis", Concurrency: 10, P50ms: ptr(1.0), P99ms: ptr(4.0),
				Extra: map[string]float64{"start_p50_ms": 0.5, "start_p99_ms": 2.0}},
		},
		Peers: map[string]peerOutput{
			"bullmq": {Version: "6.7.0", Results: map[string]map[string]any{
				"a_add_sequential":           {"median": 4000.0},
				"b2_add_50_in_flight":        {"median": 30000.0},
				"b_addBulk_1000":             {"median": 20000.0},
				"c_proc_c1_removeOnComplete": {"median": 3000.0},
				"c_proc_c50_keep":            {"median": 12000.0},
				"d_latency_p50_entry":        {"median": 1.0},
				"d_latency_p99_entry":        {"median": 3.0},
				"d_latency_p50":              {"median": 1.5},
				"d_latency_p50_ts":           {"median": 7.0}, // a longer name than the case's: not it
				"d_latency_p99":              {"median": 2.0},
			}},
			"asynq": {Version: "v0.26.0", Results: map[string]map[string]any{
				"a_enqueue_sequential":                        {"median": 10000.0},
				"b2_enqueue_50_goroutines(not batch)":         {"median": 36000.0},
				"c_proc_c1_deleteOnComplete(default)":         {"median": 4000.0},
				"c_proc_c50_retention24h":                     {"median": 5000.0},
				"d_latency_p50_TaskCheckInterval=default(1s)": {"median": 500.0},
				"d_latency_p50_TaskCheckInterval=10ms":        {"median": 5.0},
			}},
		},
	}
}

func rowNamed(t *testing.T, tb ratioTable, name string) ratioRow {
	t.Helper()
	for _, r := range tb.Rows {
		if r.Case == name {
			return r
		}
	}
	t.Fatalf("no row %q", name)
	return ratioRow{}
}

func TestRatioTableFindsEachCaseOfFilaAndThePeers(t *testing.T) {
	tb := buildTable(tableRun())
	require.Len(t, tb.Rows, len(cases))

	add := rowNamed(t, tb, "add, one at a time")
	require.Equal(t, ratioRow{Case: "add, one at a time", Unit: "jobs/s", Chart: "add, one at a time", Fila: 8000, BullMQ: 4000, Asynq: 10000}, add,
		"fila's Redis result, not its memory one")
	require.Equal(t, 10000.0, tb.RoundTrip, "the median of the round-trip runs")
	require.InDelta(t, 0.8, tb.AddVsLimit, 1e-9)

	c1 := rowNamed(t, tb, "process, conc 1, remove")
	require.Equal(t, 6000.0, c1.Fila, "the defaults, not the Prefetch variant")
	require.Equal(t, 4000.0, c1.Asynq, "asynq's case found by the start of its name")

	require.Equal(t, 1.5, rowNamed(t, tb, "idle worker, add to completed, p50").BullMQ, "an exact name wins over a longer one")
	require.Equal(t, 500.0, rowNamed(t, tb, "idle worker, add to start, p50").Asynq, "asynq's default check interval, not 10ms")
	require.Zero(t, rowNamed(t, tb, "bulk add, 1,000 per call").Asynq, "asynq has no batch API")
	require.Zero(t, rowNamed(t, tb, "process, conc 10, remove").Fila, "a case the run lacks")
}

func TestRatioIsFilasLeadWhicheverWayTheUnitPoints(t *testing.T) {
	tb := buildTable(tableRun())
	r, ok := rowNamed(t, tb, "add, one at a time").ratio(4000)
	require.True(t, ok)
	require.Equal(t, 2.0, r, "a rate: fila's over the peer's")
	r, ok = rowNamed(t, tb, "idle worker, add to start, p99").ratio(3.0)
	require.True(t, ok)
	require.Equal(t, 1.5, r, "a latency: the peer's over fila's")
	_, ok = rowNamed(t, tb, "bulk add, 1,000 per call").ratio(0)
	require.False(t, ok, "no ratio without the peer's figure")
}

func TestRatioTablePrintsMarkdown(t *testing.T) {
	var b strings.Builder
	buildTable(tableRun()).write(&b)
	want := `| case | fila | BullMQ 6.7.0 | asynq v0.26.0 | fila vs BullMQ | fila vs asynq |
|---|---:|---:|---:|---:|---:|
| add, one at a time (jobs/s) | 8,000 | 4,000 | 10,000 | 2.00x | 0.80x |
| add, 50 in flight (jobs/s) | 45,000 | 30,000 | 36,000 | 1.50x | 1.25x |
| bulk add, 1,000 per call (jobs/s) | 60,000 | 20,000 | - | 3.00x | - |
| process, conc 1, remove (jobs/s) | 6,000 | 3,000 | 4,000 | 2.00x | 1.50x |
| process, conc 10, remove (jobs/s) | - | - | - | - | - |
| process, conc 50, remove (jobs/s) | - | - | - | - | - |
| process, conc 1, keep (jobs/s) | - | - | - | - | - |
| process, conc 10, keep (jobs/s) | - | - | - | - | - |
| process, conc 50, keep (jobs/s) | 30,000 | 12,000 | 5,000 | 2.50x | 6.00x |
| idle worker, add to start, p50 (ms) | 0.50 | 1.00 | 500.00 | 2.00x | 1000.00x |
| idle worker, add to start, p99 (ms) | 2.00 | 3.00 | - | 1.50x | - |
| idle worker, add to completed, p50 (ms) | 1.00 | 1.50 | - | 1.50x | - |
| idle worker, add to completed, p99 (ms) | 4.00 | 2.00 | - | 0.50x | - |

Ratios above 1.00x: fila ahead (its rate over the peer's; for latencies the peer's time over fila's).
Round-trip limit, sequential EVALSHA of an empty script from one go-redis client: 10,000 calls/s.
fila's add, one at a time, against that limit: 0.80x.
`
	require.Equal(t, want, b.String())
}

func TestParsePeerOutputReadsTheVersionUnderThePeersName(t *testing.T) {
	o, err := parsePeerOutput("bullmq", []byte(`{"bullmq":"6.7.0","N":20000,"RUNS":3,"results":{"a_add_sequential":{"median":4000,"runs":[1,2,3],"unit":"adds/s"}}}`))
	require.NoError(t, err)
	require.Equal(t, "6.7.0", o.Version)
	require.Equal(t, 20000, o.N)
	require.Equal(t, 3, o.Runs)
	require.Equal(t, 4000.0, o.median("a_add_sequential"))

	_, err = parsePeerOutput("asynq", []byte(`{"asynq":"v0.26.0","results":{}}`))
	require.ErrorContains(t, err, "no cases")
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 12345: "12,345", 1234567: "1,234,567"} {
		require.Equal(t, want, thousands(n))
	}
}
