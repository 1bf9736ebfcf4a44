package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend/memory"
)

func TestPollerSharesOneReadPerInterval(t *testing.T) {
	t.Parallel()
	s := seed(t, memory.New())
	h, err := New(s.queues, Options{Interval: time.Hour})
	require.NoError(t, err)
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	h.snap.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }

	// Many tabs polling at once: one backend read.
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/snapshot", nil))
			if rec.Code != http.StatusOK {
				t.Errorf("snapshot: %d", rec.Code)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, h.snap.readCount())

	// The overview reuses it too; a new interval reads again.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, 1, h.snap.readCount())
	mu.Lock()
	clock = clock.Add(time.Hour)
	mu.Unlock()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/snapshot", nil))
	require.Equal(t, 2, h.snap.readCount())
}

func TestPollerSeesActionsAtOnce(t *testing.T) {
	t.Parallel()
	s := seed(t, memory.New())
	h, err := New(s.queues, Options{Interval: time.Hour})
	require.NoError(t, err)
	snap, err := h.snap.get(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 1, snap.Queues[0].Metrics.Counts.Failed)
	require.NoError(t, s.queues[0].RetryJob(context.Background(), s.ids["failed"]))
	h.snap.invalidate()
	snap, err = h.snap.get(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 0, snap.Queues[0].Metrics.Counts.Failed)
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	q := fila.NewQueue(memory.New(), "a")
	for name, c := range map[string]struct {
		queues []*fila.Queue
		opt    Options
	}{
		"no queues":      {nil, Options{}},
		"nil queue":      {[]*fila.Queue{nil}, Options{}},
		"duplicate":      {[]*fila.Queue{q, q}, Options{}},
		"interval":       {[]*fila.Queue{q}, Options{Interval: -1}},
		"timeout":        {[]*fila.Queue{q}, Options{Timeout: -1}},
		"page size":      {[]*fila.Queue{q}, Options{PageSize: -1}},
		"search limit":   {[]*fila.Queue{q}, Options{SearchLimit: -1}},
		"base with a <":  {[]*fila.Queue{q}, Options{BasePath: "/a<b/"}},
		"base with a \"": {[]*fila.Queue{q}, Options{BasePath: `/a"b`}},
		"base with é":    {[]*fila.Queue{q}, Options{BasePath: "/é/"}},
	} {
		_, err := New(c.queues, c.opt)
		require.ErrorIs(t, err, fila.ErrInvalid, name)
	}
}

func TestBasePath(t *testing.T) {
	t.Parallel()
	q := fila.NewQueue(memory.New(), "a")
	for _, base := range []string{"", "/", "admin", "/admin", "/admin/"} {
		h, err := New([]*fila.Queue{q}, Options{BasePath: base})
		require.NoError(t, err)
		want := "/" + base
		if base == "" || base == "/" {
			want = "/"
		} else if want[len(want)-1] != '/' {
			want += "/"
		}
		want = "/" + trimSlashes(want) + "/"
		if want == "//" {
			want = "/"
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, want, nil))
		require.Equal(t, http.StatusOK, rec.Code, base)
		require.Contains(t, rec.Body.String(), `href="`+want+`queues/a"`, base)
	}
	h, err := New([]*fila.Queue{q}, Options{BasePath: "/admin/"})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/admin", nil))
	require.Equal(t, http.StatusMovedPermanently, rec.Code)
	require.Equal(t, "/admin/", rec.Header().Get("Location"))
}

func trimSlashes(s string) string {
	for len(s) > 0 && s[0] == '/' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
