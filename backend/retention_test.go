package backend_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

func TestRetentionLimits(t *testing.T) {
	type limits struct {
		remove   bool
		keepLast int
		keepFor  time.Duration
	}
	get := func(r backend.Retention, failed bool) limits {
		rm, l, f := r.Limits(failed)
		return limits{rm, l, f}
	}
	t.Run("the zero value is the default, larger for failed jobs", func(t *testing.T) {
		require.Equal(t, limits{keepLast: backend.DefaultKeepCompleted}, get(backend.Retention{}, false))
		require.Equal(t, limits{keepLast: backend.DefaultKeepFailed}, get(backend.Retention{}, true))
	})
	t.Run("KeepAll has no limits", func(t *testing.T) {
		require.Equal(t, limits{}, get(backend.Retention{KeepAll: true}, false))
		require.Equal(t, limits{}, get(backend.Retention{KeepAll: true}, true))
	})
	t.Run("a set rule is applied as given", func(t *testing.T) {
		r := backend.Retention{KeepLast: 3, KeepFor: time.Hour}
		require.Equal(t, limits{keepLast: 3, keepFor: time.Hour}, get(r, false))
		require.Equal(t, limits{keepLast: 3, keepFor: time.Hour}, get(r, true))
		require.Equal(t, limits{keepFor: time.Minute}, get(backend.Retention{KeepFor: time.Minute}, false))
		require.Equal(t, limits{remove: true}, get(backend.Retention{Remove: true}, true))
	})
}
