package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a log sink that tests read while the app writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemoRunsTheWholeFlow runs `whatsapp -demo` as main does and reads its
// log: the sample conversation is answered, the redelivery is not.
func TestDemoRunsTheWholeFlow(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	env := map[string]string{"PORT": "0", "SHUTDOWN_TIMEOUT": "10s"}
	go func() { done <- run(ctx, []string{"-demo"}, func(k string) string { return env[k] }, &logs) }()
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "demo: done") }, 30*time.Second, 20*time.Millisecond, logs.String())
	cancel()
	require.NoError(t, <-done)
	out := logs.String()
	for _, want := range []string{
		"REDIS_URL is not set: jobs are kept in this process's memory and do NOT survive a restart",
		"DEMO MODE",
		"replies_sent=3 read_receipts=3 media_lookups=3", // the download, thumbnail and scan children each look the file up
		`answer="We are open Monday to Friday, 9:00 to 18:00."`,
		"status=read",
		"shut down",
	} {
		require.Contains(t, out, want)
	}
}

func TestRunFailsAtStartOnMissingSecrets(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	err := run(context.Background(), nil, func(string) string { return "" }, &logs)
	require.ErrorContains(t, err, "WHATSAPP_APP_SECRET is not set")
}
