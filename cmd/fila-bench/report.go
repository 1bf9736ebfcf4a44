package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// caseSpec is one row of the comparison: how to find it in fila's results
// and under which name in each peer's.
type caseSpec struct {
	name   string
	unit   string // "jobs/s" (higher is better) or "ms" (lower is better)
	chart  string // the short label in the chart; "" keeps the row out of it
	fila   func([]result) float64
	bullmq string // the peer's case name, or a prefix of it; "" when it has none
	asynq  string
}

// cases are the rows of the ratio table, in the order printed. The peers'
// programs fix the cases: fila runs the same ones (20,000 no-op jobs a
// case; "keep" is fila's keep-last-1,000, BullMQ's keep-all and asynq's 24h
// retention).
var cases = []caseSpec{
	{"add, one at a time", "jobs/s", "add, one at a time", filaRate("add", "sequential", 1), "a_add_sequential", "a_enqueue_sequential"},
	{"add, 50 in flight", "jobs/s", "add, 50 in flight", filaRate("add", "50 producers", 50), "b2_add_50_in_flight", "b2_enqueue_50"},
	{"bulk add, 1,000 per call", "jobs/s", "bulk add, 1,000", filaRate("add-bulk", "bulks of 1000", 1), "b_addBulk_1000", ""},
	{"process, conc 1, remove", "jobs/s", "process, conc 1, remove", filaRate("process", "remove on complete", 1), "c_proc_c1_removeOnComplete", "c_proc_c1_delete"},
	{"process, conc 10, remove", "jobs/s", "process, conc 10, remove", filaRate("process", "remove on complete", 10), "c_proc_c10_removeOnComplete", "c_proc_c10_delete"},
	{"process, conc 50, remove", "jobs/s", "process, conc 50, remove", filaRate("process", "remove on complete", 50), "c_proc_c50_removeOnComplete", "c_proc_c50_delete"},
	{"process, conc 1, keep", "jobs/s", "process, conc 1, keep", filaRate("process", "keep last 1000", 1), "c_proc_c1_keep", "c_proc_c1_retention"},
	{"process, conc 10, keep", "jobs/s", "process, conc 10, keep", filaRate("process", "keep last 1000", 10), "c_proc_c10_keep", "c_proc_c10_retention"},
	{"process, conc 50, keep", "jobs/s", "process, conc 50, keep", filaRate("process", "keep last 1000", 50), "c_proc_c50_keep", "c_proc_c50_retention"},
	{"idle worker, add to start, p50", "ms", "", filaLatency("start_p50_ms"), "d_latency_p50_entry", "d_latency_p50_TaskCheckInterval=default"},
	{"idle worker, add to start, p99", "ms", "", filaLatency("start_p99_ms"), "d_latency_p99_entry", "d_latency_p99_TaskCheckInterval=default"},
	{"idle worker, add to completed, p50", "ms", "", filaLatency("p50_ms"), "d_latency_p50", ""},
	{"idle worker, add to completed, p99", "ms", "", filaLatency("p99_ms"), "d_latency_p99", ""},
}

// filaRate finds the jobs/s of one of fila's Redis results (defaults: no
// Prefetch).
func filaRate(scenario, variant string, conc int) func([]result) float64 {
	return func(rs []result) float64 {
		for _, r := range rs {
			if r.Backend == "redis" && r.Scenario == scenario && r.Variant == variant && r.Concurrency == conc && r.Prefetch == 0 {
				return r.JobsPerSec
			}
		}
		return 0
	}
}

// filaLatency finds a figure of fila's Redis latency result: p50_ms and
// p99_ms (add to completed) or one of its extras (start_*: add to start).
func filaLatency(key string) func([]result) float64 {
	return func(rs []result) float64 {
		for _, r := range rs {
			if r.Backend != "redis" || r.Scenario != "latency" {
				continue
			}
			switch key {
			case "p50_ms":
				return deref(r.P50ms)
			case "p99_ms":
				return deref(r.P99ms)
			}
			return r.Extra[key]
		}
		return 0
	}
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

// ratioRow is one case of a run; 0 stands for a figure the run lacks.
type ratioRow struct {
	Case, Unit, Chart   string
	Fila, BullMQ, Asynq float64
}

// lowerIsBetter: latencies.
func (r ratioRow) lowerIsBetter() bool { return r.Unit == "ms" }

// ratio says how many times fila does better than a peer: fila's rate over
// the peer's, or the peer's latency over fila's. Above 1, fila leads.
func (r ratioRow) ratio(peer float64) (float64, bool) {
	if r.Fila == 0 || peer == 0 {
		return 0, false
	}
	if r.lowerIsBetter() {
		return peer / r.Fila, true
	}
	return r.Fila / peer, true
}

// ratioTable is what a run compares: each case, and the sequential add
// against the round-trip limit.
type ratioTable struct {
	BullMQVersion, AsynqVersion string
	Rows                        []ratioRow
	RoundTrip                   float64 // sequential EVALSHA of an empty script per second
	AddVsLimit                  float64 // fila's sequential add over RoundTrip
}

func buildTable(run *benchRun) ratioTable {
	t := ratioTable{BullMQVersion: run.Peers["bullmq"].Version, AsynqVersion: run.Peers["asynq"].Version,
		RoundTrip: run.roundTripMedian()}
	for _, c := range cases {
		row := ratioRow{Case: c.name, Unit: c.unit, Chart: c.chart, Fila: c.fila(run.Fila),
			BullMQ: run.Peers["bullmq"].median(c.bullmq), Asynq: run.Peers["asynq"].median(c.asynq)}
		t.Rows = append(t.Rows, row)
	}
	if add := t.Rows[0].Fila; add > 0 && t.RoundTrip > 0 {
		t.AddVsLimit = add / t.RoundTrip
	}
	return t
}

// write prints the table as Markdown, ready for docs/performance.md.
func (t ratioTable) write(w io.Writer) {
	bull, asynq := "BullMQ "+t.BullMQVersion, "asynq "+t.AsynqVersion
	fmt.Fprintf(w, "| case | fila | %s | %s | fila vs BullMQ | fila vs asynq |\n", strings.TrimSpace(bull), strings.TrimSpace(asynq))
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, r := range t.Rows {
		fmt.Fprintf(w, "| %s (%s) | %s | %s | %s | %s | %s |\n", r.Case, r.Unit,
			figure(r.Fila, r.Unit), figure(r.BullMQ, r.Unit), figure(r.Asynq, r.Unit), ratioText(r.ratio(r.BullMQ)), ratioText(r.ratio(r.Asynq)))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ratios above 1.00x: fila ahead (its rate over the peer's; for latencies the peer's time over fila's).")
	fmt.Fprintf(w, "Round-trip limit, sequential EVALSHA of an empty script from one go-redis client: %s calls/s.\n", figure(t.RoundTrip, "jobs/s"))
	fmt.Fprintf(w, "fila's add, one at a time, against that limit: %s.\n", ratioText(t.AddVsLimit, t.AddVsLimit > 0))
}

// figure formats a rate with thousands separators and a latency with two
// decimals; 0 is a missing figure.
func figure(v float64, unit string) string {
	if v == 0 {
		return "-"
	}
	if unit == "ms" {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return thousands(int64(v + 0.5))
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func ratioText(r float64, ok bool) string {
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(r, 'f', 2, 64) + "x"
}
