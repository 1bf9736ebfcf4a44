package main

import (
	"fmt"
	"sort"
)

// A -peers run goes in rounds. Each round runs every group of cases once:
// fila's, then each peer's, back to back on the same server; the sequential
// add's group starts with the round-trip limit. A run keeps, for each case,
// the median of its rounds. Run whole, one program after the other, the
// programs ran minutes apart, and this VM's speed drifts by 10-30% over
// minutes: the round-trip limit measured at the start and the end of one
// run differed by half (docs/bench/2026-12-06-2235.json, 11,240 to 16,856
// calls/s), so a ratio said as much about when each side ran as about the
// code. In rounds, the figures a ratio divides are seconds apart.

// caseGroup is one group of cases: a fila-bench scenario and the peers'
// case arguments that measure the same thing.
type caseGroup struct {
	scenario string   // fila's (cfg.scenarios)
	peer     []string // the peers' (preparedPeer.casesIn keeps each peer's)
	limit    bool     // the round-trip limit runs first
}

var caseGroups = []caseGroup{
	{scenario: "add", peer: []string{"add", "par"}, limit: true},
	{scenario: "add-bulk", peer: []string{"bulk"}},
	{scenario: "process", peer: []string{"proc"}},
	{scenario: "latency", peer: []string{"lat"}},
}

// resultKey names one of fila's cases across rounds.
type resultKey struct {
	scenario, variant, backend string
	conc, prefetch             int
}

func keyOf(r result) resultKey {
	return resultKey{r.Scenario, r.Variant, r.Backend, r.Concurrency, r.Prefetch}
}

// mergeFila keeps, for each of fila's cases, the round with the median
// jobs/s (as bench.median does within a run), with every round's jobs/s in
// Runs, in the order the cases first appear.
func mergeFila(rounds [][]result) []result {
	var order []resultKey
	byKey := map[resultKey][]result{}
	for _, rs := range rounds {
		for _, r := range rs {
			k := keyOf(r)
			if _, ok := byKey[k]; !ok {
				order = append(order, k)
			}
			byKey[k] = append(byKey[k], r)
		}
	}
	out := make([]result, 0, len(order))
	for _, k := range order {
		rs := byKey[k]
		runs := make([]float64, len(rs))
		for i, r := range rs {
			runs[i] = r.JobsPerSec
		}
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].JobsPerSec < rs[j].JobsPerSec })
		med := rs[len(rs)/2]
		med.Runs = runs
		out = append(out, med)
	}
	return out
}

// mergePeer joins one peer's outputs, one per round and group, into one
// output as its program would have written for all its runs: each case's
// runs in round order and their median; the case's other figures (CPU
// seconds, a handler's rate) are those of the round that gave the median.
func mergePeer(outs []peerOutput) (peerOutput, error) {
	if len(outs) == 0 {
		return peerOutput{}, fmt.Errorf("no output to merge")
	}
	m := peerOutput{Version: outs[0].Version, N: outs[0].N, Results: map[string]map[string]any{}}
	type run struct {
		v    float64
		from map[string]any
	}
	runs := map[string][]run{}
	for _, o := range outs {
		if o.Version != m.Version {
			return peerOutput{}, fmt.Errorf("versions differ between rounds: %s and %s", m.Version, o.Version)
		}
		for name, c := range o.Results {
			vs, ok := c["runs"].([]any)
			if !ok || len(vs) == 0 {
				return peerOutput{}, fmt.Errorf("case %s: no runs", name)
			}
			for _, v := range vs {
				f, ok := v.(float64)
				if !ok {
					return peerOutput{}, fmt.Errorf("case %s: run %v is not a number", name, v)
				}
				runs[name] = append(runs[name], run{f, c})
			}
		}
	}
	for name, rs := range runs {
		vals := make([]any, len(rs))
		for i, r := range rs {
			vals[i] = r.v
		}
		sorted := append([]run(nil), rs...)
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].v < sorted[j].v })
		med := sorted[len(sorted)/2]
		c := map[string]any{}
		for k, v := range med.from {
			c[k] = v
		}
		c["runs"], c["median"] = vals, med.v
		m.Results[name] = c
		m.Runs = max(m.Runs, len(rs))
	}
	return m, nil
}
