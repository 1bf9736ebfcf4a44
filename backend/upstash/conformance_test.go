package upstash_test

import (
	"testing"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/backendtest"
)

// Each subtest gets its own miniredis: miniredis runs one command at a time,
// and under the race detector a subtest's long script would stall the
// others' timing-sensitive checks.
func TestConformanceMiniredis(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend {
		return newBackend(t, miniBundle(t).config())
	})
}

func TestConformanceRedisServer(t *testing.T) {
	b := realBundle(t)
	be := newBackend(t, b.config())
	backendtest.Run(t, func(t *testing.T) backend.Backend { return be })
}

// With GlobalLock the scripts may reach other queues' keys, and flows
// across queues work: the whole suite, FlowQueues included, over the
// emulator, which guards declared keys only for scripts with key locking.
func TestConformanceGlobalLock(t *testing.T) {
	b := realBundle(t)
	cfg := b.config()
	cfg.GlobalLock = true
	be := newBackend(t, cfg)
	backendtest.Run(t, func(t *testing.T) backend.Backend { return be })
}
