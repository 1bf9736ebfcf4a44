package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// peer is one of the peer benchmark programs under bench/peers.
type peer struct {
	name string // "bullmq" or "asynq": its directory and its output's version key
	// prepare builds or installs the program in dir; the command to run it
	// comes back.
	prepare func(ctx context.Context, dir, tmp string) (*exec.Cmd, error)
}

var peers = []peer{
	{name: "bullmq", prepare: func(ctx context.Context, dir, _ string) (*exec.Cmd, error) {
		if _, err := exec.LookPath("node"); err != nil {
			return nil, fmt.Errorf("bullmq needs Node.js (node, npm) on PATH: %w", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "node_modules")); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintln(os.Stderr, "bullmq: npm ci (node_modules is missing)")
			if err := runVisible(exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund"), dir); err != nil {
				return nil, fmt.Errorf("bullmq: npm ci: %w", err)
			}
		}
		return exec.CommandContext(ctx, "node", "bench.js"), nil
	}},
	{name: "asynq", prepare: func(ctx context.Context, dir, tmp string) (*exec.Cmd, error) {
		bin := filepath.Join(tmp, "asynqbench")
		// A module of its own: built from its go.mod and go.sum, not fila's.
		if err := runVisible(exec.CommandContext(ctx, "go", "build", "-o", bin, "."), dir); err != nil {
			return nil, fmt.Errorf("asynq: go build: %w", err)
		}
		return exec.CommandContext(ctx, bin), nil
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

// runPeer runs one peer's program against the server at port with n jobs
// per case and runs runs per case, and reads what it wrote.
func runPeer(ctx context.Context, p peer, peersDir string, port, n, runs int) (peerOutput, error) {
	dir := filepath.Join(peersDir, p.name)
	tmp, err := os.MkdirTemp("", "fila-bench-"+p.name+"-")
	if err != nil {
		return peerOutput{}, err
	}
	defer os.RemoveAll(tmp)
	cmd, err := p.prepare(ctx, dir, tmp)
	if err != nil {
		return peerOutput{}, err
	}
	out := filepath.Join(tmp, "out.json")
	cmd.Env = append(os.Environ(), "REDIS_PORT="+strconv.Itoa(port), "N="+strconv.Itoa(n), "RUNS="+strconv.Itoa(runs), "OUT_JSON="+out)
	if err := runVisible(cmd, dir); err != nil {
		return peerOutput{}, fmt.Errorf("%s: %w", p.name, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return peerOutput{}, fmt.Errorf("%s wrote no results: %w", p.name, err)
	}
	return parsePeerOutput(p.name, b)
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
