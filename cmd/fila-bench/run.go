package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

// benchRun is one -peers run: fila's results and the peers', measured back
// to back on one private redis-server. Its JSON is what -out writes and
// -report reads; the table and the chart are drawn from it alone.
type benchRun struct {
	Started      string `json:"started"`  // RFC 3339, UTC
	Finished     string `json:"finished"` // RFC 3339, UTC
	Commit       string `json:"commit,omitempty"`
	GoVersion    string `json:"go_version"`
	RedisVersion string `json:"redis_version"`
	NodeVersion  string `json:"node_version,omitempty"` // BullMQ's runtime
	// PostgresVersion is set by a -peers -postgres run (River beside fila's
	// postgres backend).
	PostgresVersion string `json:"postgres_version,omitempty"`
	Host            string `json:"host"`               // OS, architecture, CPUs
	LoadAvg         string `json:"load_avg,omitempty"` // /proc/loadavg at the start and the end
	N               int    `json:"n"`
	Runs            int    `json:"runs"`
	// Rounds is set by a run made in rounds (rounds.go): each group of
	// cases ran once a round, fila's and each peer's back to back. Runs
	// saved before rounds existed ran each program whole, one after the
	// other.
	Rounds    bool      `json:"rounds,omitempty"`
	RoundTrip []float64 `json:"round_trip_per_sec"` // each run of roundTripLimit
	Fila      []result  `json:"fila"`
	// Peers holds each peer program's own JSON output, by name ("bullmq",
	// "asynq"), as the program wrote it.
	Peers map[string]peerOutput `json:"peers,omitempty"`
}

// peerOutput is the JSON a peer program writes to OUT_JSON.
type peerOutput struct {
	Version string                    `json:"version"`
	N       int                       `json:"N"`
	Runs    int                       `json:"RUNS"`
	Results map[string]map[string]any `json:"results"`
}

// median returns the median of a case of the peer's results: the case
// named key, or else the first (by name) whose name starts with key (asynq's
// names carry notes). 0: no such case.
func (p peerOutput) median(key string) float64 {
	if key == "" {
		return 0
	}
	if c, ok := p.Results[key]; ok {
		v, _ := c["median"].(float64)
		return v
	}
	var names []string
	for k := range p.Results {
		if strings.HasPrefix(k, key) {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return 0
	}
	sort.Strings(names)
	v, _ := p.Results[names[0]]["median"].(float64)
	return v
}

// roundTripMedian is the median of the run's round-trip limit runs.
func (r *benchRun) roundTripMedian() float64 { return medianOf(r.RoundTrip) }

func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func loadRun(path string) (*benchRun, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r benchRun
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func (r *benchRun) save(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
