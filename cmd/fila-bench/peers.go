package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// peer is one of the peer benchmark programs under bench/peers.
type peer struct {
	name string // "bullmq" or "asynq": its directory and its output's version key
	// cases are the case arguments its program takes (each runs only the
	// cases named on its command line).
	cases []string
	// prepare builds or installs the program in dir (into tmp when it
	// builds a binary) and returns the command line that runs it.
	prepare func(ctx context.Context, dir, tmp string) ([]string, error)
}

var peers = []peer{
	{name: "bullmq", cases: []string{"add", "bulk", "par", "proc", "lat"}, prepare: func(ctx context.Context, dir, _ string) ([]string, error) {
		if _, err := exec.LookPath("node"); err != nil {
			return nil, fmt.Errorf("bullmq needs Node.js (node, npm) on PATH: %w", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "node_modules")); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintln(os.Stderr, "bullmq: npm ci (node_modules is missing)")
			if err := runVisible(exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund"), dir); err != nil {
				return nil, fmt.Errorf("bullmq: npm ci: %w", err)
			}
		}
		return []string{"node", "bench.js"}, nil
	}},
	{name: "asynq", cases: []string{"add", "par", "proc", "lat"}, prepare: func(ctx context.Context, dir, tmp string) ([]string, error) {
		bin := filepath.Join(tmp, "asynqbench")
		// A module of its own: built from its go.mod and go.sum, not fila's.
		if err := runVisible(exec.CommandContext(ctx, "go", "build", "-o", bin, "."), dir); err != nil {
			return nil, fmt.Errorf("asynq: go build: %w", err)
		}
		return []string{bin}, nil
	}},
}

func peerNamed(name string) (peer, bool) {
	for _, p := range peers {
		if p.name == name {
			return p, true
		}
	}
	return peer{}, false
}

// preparedPeer is a peer whose program is built, ready to run.
type preparedPeer struct {
	peer
	dir  string   // its directory under bench/peers
	argv []string // the command line that runs it
	tmp  string   // where it was built; removed by cleanup
}

// preparePeer builds or installs p's program once, for every round.
func preparePeer(ctx context.Context, p peer, peersDir string) (*preparedPeer, error) {
	pp := &preparedPeer{peer: p, dir: filepath.Join(peersDir, p.name)}
	tmp, err := os.MkdirTemp("", "fila-bench-"+p.name+"-")
	if err != nil {
		return nil, err
	}
	pp.tmp = tmp
	if pp.argv, err = p.prepare(ctx, pp.dir, tmp); err != nil {
		pp.cleanup()
		return nil, err
	}
	return pp, nil
}

func (pp *preparedPeer) cleanup() { os.RemoveAll(pp.tmp) }

// casesIn returns those of want the program has, in order.
func (pp *preparedPeer) casesIn(want []string) []string {
	var out []string
	for _, c := range want {
		if slices.Contains(pp.cases, c) {
			out = append(out, c)
		}
	}
	return out
}

// run runs the program's cases against the server at port with n jobs per
// case and runs runs per case, and reads what it wrote.
func (pp *preparedPeer) run(ctx context.Context, port, n, runs int, cases []string) (peerOutput, error) {
	out := filepath.Join(pp.tmp, "out.json")
	_ = os.Remove(out)
	cmd := exec.CommandContext(ctx, pp.argv[0], append(pp.argv[1:], cases...)...)
	cmd.Env = append(os.Environ(), "REDIS_PORT="+strconv.Itoa(port), "N="+strconv.Itoa(n), "RUNS="+strconv.Itoa(runs), "OUT_JSON="+out)
	if err := runVisible(cmd, pp.dir); err != nil {
		return peerOutput{}, fmt.Errorf("%s: %w", pp.name, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return peerOutput{}, fmt.Errorf("%s wrote no results: %w", pp.name, err)
	}
	return parsePeerOutput(pp.name, b)
}

// parsePeerOutput reads a peer program's OUT_JSON, whose version is under
// the peer's name ({"bullmq": "6.7.0", "N": ..., "RUNS": ..., "results": ...}).
func parsePeerOutput(name string, b []byte) (peerOutput, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return peerOutput{}, fmt.Errorf("%s results: %w", name, err)
	}
	var o peerOutput
	if err := json.Unmarshal(b, &o); err != nil {
		return peerOutput{}, fmt.Errorf("%s results: %w", name, err)
	}
	if v, ok := raw[name]; ok {
		if err := json.Unmarshal(v, &o.Version); err != nil {
			return peerOutput{}, fmt.Errorf("%s results: version: %w", name, err)
		}
	}
	if len(o.Results) == 0 {
		return peerOutput{}, fmt.Errorf("%s results: no cases", name)
	}
	return o, nil
}

// runVisible runs cmd in dir with its output on fila-bench's stderr, where
// the progress of a long run shows.
func runVisible(cmd *exec.Cmd, dir string) error {
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// findPeersDir finds bench/peers in the repository holding the working
// directory (go run ./cmd/fila-bench runs from the repository).
func findPeersDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "bench", "peers")
		if _, err := os.Stat(filepath.Join(p, "bullmq", "package.json")); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("bench/peers not found above the working directory: run from the fila repository or pass -peers-dir")
		}
		dir = parent
	}
}

// peerList parses -peer.
func peerList(s string) ([]peer, error) {
	var ps []peer
	for _, name := range strings.Split(s, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		p, ok := peerNamed(name)
		if !ok {
			return nil, fmt.Errorf("-peer: unknown peer %q (known: bullmq, asynq)", name)
		}
		ps = append(ps, p)
	}
	return ps, nil
}
