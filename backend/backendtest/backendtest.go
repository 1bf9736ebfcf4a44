// Package backendtest is the conformance suite every fila backend must pass.
//
// Run it from a backend's tests:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backend.Backend { return memory.New() })
//	}
//
// The suite drives the backend.Backend contract directly: the whole job
// lifecycle, crash and stall recovery, the global limiter, retention,
// priorities, LIFO, pause, events, idempotent IDs and refusals. Each subtest
// uses its own queue name, so the factory may return one shared backend.
// Times come from the backend's clock; bounds are generous, and order and
// counts are what is asserted.
package backendtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// Factory returns the backend under test. It is called once per subtest;
// returning the same backend each time is fine.
type Factory func(t *testing.T) backend.Backend

// Run runs the whole suite against the backends the factory returns.
func Run(t *testing.T, f Factory) {
	t.Run("Add", func(t *testing.T) { runAdd(t, f) })
	t.Run("Claim", func(t *testing.T) { runClaim(t, f) })
	t.Run("Delayed", func(t *testing.T) { runDelayed(t, f) })
	t.Run("Finish", func(t *testing.T) { runFinish(t, f) })
	t.Run("Locks", func(t *testing.T) { runLocks(t, f) })
	t.Run("Pause", func(t *testing.T) { runPause(t, f) })
	t.Run("Limits", func(t *testing.T) { runLimits(t, f) })
	t.Run("Retention", func(t *testing.T) { runRetention(t, f) })
	t.Run("Inspect", func(t *testing.T) { runInspect(t, f) })
	t.Run("Events", func(t *testing.T) { runEvents(t, f) })
	t.Run("Order", func(t *testing.T) { runOrder(t, f) })
	t.Run("Contexts", func(t *testing.T) { runContexts(t, f) })
	t.Run("Schedulers", func(t *testing.T) { runSchedulers(t, f) })
	t.Run("Groups", func(t *testing.T) { runGroups(t, f) })
	t.Run("Cancel", func(t *testing.T) { runCancel(t, f) })
	t.Run("Meta", func(t *testing.T) { runMeta(t, f) })
	t.Run("Flows", func(t *testing.T) { runFlows(t, f) })
	t.Run("FlowQueues", func(t *testing.T) { runFlowQueues(t, f) })
}

// bundle is what one subtest works with.
type bundle struct {
	t     *testing.T
	be    backend.Backend
	queue string
	ctx   context.Context
	n     int
}

func setup(t *testing.T, f Factory) *bundle {
	t.Helper()
	t.Parallel()
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	name := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	if len(name) > 100 {
		name = name[len(name)-100:]
	}
	return &bundle{t: t, be: f(t), queue: name + "-" + hex.EncodeToString(suffix[:]), ctx: context.Background()}
}

// lockFor is the lock duration of claims that should not expire in a test.
const lockFor = time.Minute

func (b *bundle) addItems(items ...backend.JobAddItem) []backend.JobAddResult {
	b.t.Helper()
	res, err := b.be.JobAdd(b.ctx, &backend.JobAddParams{Queue: b.queue, Jobs: items})
	require.NoError(b.t, err)
	require.Len(b.t, res, len(items))
	return res
}

// add adds one job and returns its ID.
func (b *bundle) add(name string, o backend.JobOptions) string {
	b.t.Helper()
	if o.Attempts == 0 {
		o.Attempts = 1
	}
	res := b.addItems(backend.JobAddItem{Name: name, Data: []byte(`{"n":"` + name + `"}`), Options: o})
	require.Equal(b.t, backend.AddCreated, res[0].Status)
	return res[0].ID
}

func (b *bundle) token() string {
	b.n++
	return fmt.Sprintf("tok-%d", b.n)
}

func (b *bundle) claimParams(token string) *backend.JobClaimParams {
	return &backend.JobClaimParams{Queue: b.queue, Token: token, LockDuration: lockFor}
}

// claim claims without waiting and returns the job (or nil) and its token.
func (b *bundle) claim() (*backend.Job, string) {
	b.t.Helper()
	tok := b.token()
	res, err := b.be.JobClaim(b.ctx, b.claimParams(tok))
	require.NoError(b.t, err)
	return res.Job, tok
}

// mustClaim claims, waiting up to 5s, and fails the test without a job.
func (b *bundle) mustClaim() (*backend.Job, string) {
	b.t.Helper()
	tok := b.token()
	p := b.claimParams(tok)
	p.Wait = 5 * time.Second
	res, err := b.be.JobClaim(b.ctx, p)
	require.NoError(b.t, err)
	require.NotNil(b.t, res.Job, "expected a job to claim")
	return res.Job, tok
}

// claimOrder claims until empty and returns the job names in claim order.
func (b *bundle) claimOrder() []string {
	b.t.Helper()
	var names []string
	for {
		j, _ := b.claim()
		if j == nil {
			return names
		}
		names = append(names, j.Name)
	}
}

func (b *bundle) complete(id, tok string) {
	b.t.Helper()
	_, err := b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: id, Token: tok, ReturnValue: []byte(`"ok"`)})
	require.NoError(b.t, err)
}

func (b *bundle) get(id string) *backend.Job {
	b.t.Helper()
	j, err := b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: b.queue, ID: id})
	require.NoError(b.t, err)
	return j
}

func (b *bundle) counts() backend.Counts {
	b.t.Helper()
	c, err := b.be.QueueCounts(b.ctx, &backend.QueueParams{Queue: b.queue})
	require.NoError(b.t, err)
	return *c
}

func (b *bundle) list(s backend.State) []string {
	b.t.Helper()
	jobs, err := b.be.JobList(b.ctx, &backend.JobListParams{Queue: b.queue, State: s, Limit: 10000})
	require.NoError(b.t, err)
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		require.Equal(b.t, s, j.State, "job %s listed as %s", j.ID, s)
		ids[i] = j.ID
	}
	return ids
}

// eventually polls cond (for state reached through real time) for up to 5s.
func (b *bundle) eventually(cond func() bool, msg string) {
	b.t.Helper()
	require.Eventually(b.t, cond, 5*time.Second, 5*time.Millisecond, msg)
}
