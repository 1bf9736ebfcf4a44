package fila

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// A spent quota backs off from 1s, doubling, to 1 min; a network error
// from 50ms to 5s.
func TestBackendBackoff(t *testing.T) {
	quota := fmt.Errorf("upstash: EVALSHA claim: HTTP 429: %w", backend.ErrQuota)
	for failures, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 6: 32 * time.Second, 7: time.Minute, 50: time.Minute} {
		d := backendBackoff(quota, failures)
		require.GreaterOrEqual(t, d, base, "quota, failure %d", failures)
		require.LessOrEqual(t, d, base+base/10, "quota, failure %d", failures)
	}
	for _, failures := range []int{1, 5, 50} {
		d := backendBackoff(errors.New("connection refused"), failures)
		require.Positive(t, d)
		require.LessOrEqual(t, d, 5*time.Second, "network error, failure %d", failures)
	}
}
