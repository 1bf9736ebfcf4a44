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
