package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/fila-go/fila/backend"
)

// queueArgs returns the positional arguments of cmd that must name known
// queues.
func queueArgs(cmd *command, args []string) []string {
	if cmd.knownQueues < 0 || cmd.knownQueues > len(args) {
		return args
	}
	return args[:cmd.knownQueues]
}

// requireKnownQueues fails, naming the queues there are, when a name is
// not a queue of the storage: a mistyped name (or -prefix) would otherwise
// show zeros or change nothing and exit 0.
func requireKnownQueues(ctx context.Context, be backend.Backend, prefix string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	known, err := be.QueueList(ctx)
	if err != nil {
		return fmt.Errorf("fila: list queues: %w", err)
	}
	for _, name := range names {
		if slices.Contains(known, name) {
			continue
		}
		if len(known) == 0 {
			return fmt.Errorf("fila: no queue %q: there are no queues under the key prefix %q", name, prefix)
		}
		sorted := slices.Clone(known)
		slices.Sort(sorted)
		return fmt.Errorf("fila: no queue %q; the queues are: %s", name, strings.Join(sorted, ", "))
	}
	return nil
}
