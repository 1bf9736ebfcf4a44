package dashboard

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
)

// secretErr is what a storage error may carry: an address and a password.
var secretErr = errors.New("dial redis://ops:hunter2@10.1.2.3:6379: connection refused")

// brokenBackend fails the reads of a page with secretErr.
type brokenBackend struct{ backend.Backend }

func (brokenBackend) QueueCounts(context.Context, *backend.QueueParams) (*backend.Counts, error) {
	return nil, secretErr
}

func (brokenBackend) JobList(context.Context, *backend.JobListParams) ([]*backend.Job, error) {
	return nil, secretErr
}

func (brokenBackend) JobGet(context.Context, *backend.JobGetParams) (*backend.Job, error) {
	return nil, secretErr
}

func TestBackendErrorsHideTheirDetails(t *testing.T) {
	t.Parallel()
	be := brokenBackend{memory.New()}
	h, err := New([]*fila.Queue{fila.NewQueue(be, "q")}, Options{})
	require.NoError(t, err)
	for path, status := range map[string]int{"/": 200, "/queues/q": 502, "/queues/q/jobs/1": 502, "/api/snapshot": 200} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, status, rec.Code, path)
		body := rec.Body.String()
		require.NotContains(t, body, "hunter2", path)
		require.NotContains(t, body, "10.1.2.3", path)
		require.Contains(t, body, "the queue storage did not answer", path)
	}
}
