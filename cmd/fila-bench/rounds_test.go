package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMergeFilaKeepsEachCasesMedianRound(t *testing.T) {
	seq := func(rate float64) result {
		return result{Scenario: "add", Variant: "sequential", Backend: "redis", Concurrency: 1, JobsPerSec: rate, ClientCPU: rate / 1000}
	}
	par := func(rate float64) result {
		return result{Scenario: "add", Variant: "50 producers", Backend: "redis", Concurrency: 50, JobsPerSec: rate}
	}
	proc := result{Scenario: "process", Variant: "remove on complete", Backend: "redis", Concurrency: 1, JobsPerSec: 7000}
	got := mergeFila([][]result{
		{seq(9000), par(40000)},
		{proc},
		{seq(12000), par(30000)},
		{seq(10000), par(50000)},
	})
	require.Len(t, got, 3)
	// In the order the cases first ran; each the round with the median rate,
	// whole (its other figures too).
	want := func(r result, runs ...float64) result { r.Runs = runs; return r }
	require.Equal(t, want(seq(10000), 9000, 12000, 10000), got[0])
	require.Equal(t, want(par(40000), 40000, 30000, 50000), got[1])
	require.Equal(t, want(proc, 7000), got[2])
}

func TestMergePeerJoinsRoundsAsOneOutput(t *testing.T) {
	round := func(seq, cpu float64) peerOutput {
		return peerOutput{Version: "v0.26.0", N: 20000, Runs: 1, Results: map[string]map[string]any{
			"a_enqueue_sequential": {"median": seq, "runs": []any{seq}, "unit": "adds/s", "cpu_client_s": cpu},
		}}
	}
	lat := peerOutput{Version: "v0.26.0", N: 20000, Runs: 1, Results: map[string]map[string]any{
		"d_latency_p99": {"median": 2.5, "runs": []any{2.5}, "unit": "ms"},
	}}
	m, err := mergePeer([]peerOutput{round(11000, 1.1), lat, round(13000, 1.3), round(12000, 1.2)})
	require.NoError(t, err)
	require.Equal(t, "v0.26.0", m.Version)
	require.Equal(t, 3, m.Runs)
	c := m.Results["a_enqueue_sequential"]
	require.Equal(t, []any{11000.0, 13000.0, 12000.0}, c["runs"])
	require.Equal(t, 12000.0, c["median"])
	require.Equal(t, 1.2, c["cpu_client_s"], "the median round's other figures")
	require.Equal(t, "adds/s", c["unit"])
	require.Equal(t, 12000.0, m.median("a_enqueue_sequential"))
	require.Equal(t, 2.5, m.median("d_latency_p99"))
}

func TestMergePeerRefusesMixedOrEmptyOutputs(t *testing.T) {
	_, err := mergePeer(nil)
	require.Error(t, err)
	a := peerOutput{Version: "6.7.0", Results: map[string]map[string]any{"x": {"runs": []any{1.0}}}}
	b := peerOutput{Version: "6.8.0", Results: map[string]map[string]any{"x": {"runs": []any{1.0}}}}
	_, err = mergePeer([]peerOutput{a, b})
	require.ErrorContains(t, err, "versions differ")
	noRuns := peerOutput{Version: "6.7.0", Results: map[string]map[string]any{"x": {"median": 1.0}}}
	_, err = mergePeer([]peerOutput{noRuns})
	require.ErrorContains(t, err, "case x: no runs")
}
