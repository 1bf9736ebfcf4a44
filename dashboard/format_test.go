package dashboard

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
)

func TestOptionLines(t *testing.T) {
	t.Parallel()
	require.Equal(t, "(all defaults)", optionLines(fila.JobOptions{}))
	got := optionLines(fila.JobOptions{Attempts: 3, Delay: 90 * time.Second, Backoff: fila.Backoff{Type: fila.BackoffExponential, Delay: time.Second}})
	require.Equal(t, "Delay: 1m30s\nAttempts: 3\nBackoff.Type: exponential\nBackoff.Delay: 1s\n", got)
}

func TestShowBytes(t *testing.T) {
	t.Parallel()
	text, format := showBytes([]byte(`{"a":[1,2]}`))
	require.Equal(t, "JSON", format)
	require.Equal(t, "{\n  \"a\": [\n    1,\n    2\n  ]\n}", text)
	text, format = showBytes([]byte("plain <b>"))
	require.Equal(t, "text", format)
	require.Equal(t, "plain <b>", text)
	_, format = showBytes([]byte{0xff, 0})
	require.Equal(t, "bytes (hex)", format)
	_, format = showBytes(nil)
	require.Equal(t, "empty", format)
}
