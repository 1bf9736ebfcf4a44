package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
)

// runFlowChildren claims the ready jobs of queue one by one and finishes
// them by name: "ok*" completes with {"n": <name>}, "bad*" fails for good
// with a reason carrying the XSS payload, others go back untouched. It
// returns the IDs by name.
func runFlowChildren(t *testing.T, be backend.Backend, queue string, names ...string) map[string]string {
	t.Helper()
	ctx := context.Background()
	ids := map[string]string{}
	for range names {
		res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: queue, Token: "flow", LockDuration: time.Hour})
		require.NoError(t, err)
		require.NotNil(t, res.Job)
		j := res.Job
		ids[j.Name] = j.ID
		switch {
		case strings.HasPrefix(j.Name, "ok"):
			_, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: queue, ID: j.ID, Token: "flow", ReturnValue: []byte(`{ "n": "` + j.Name + `" }`)})
		case strings.HasPrefix(j.Name, "bad"):
			_, err = be.JobFail(ctx, &backend.JobFailParams{Queue: queue, ID: j.ID, Token: "flow", Reason: "bad " + xss})
		default:
			t.Fatalf("unexpected job %q", j.Name)
		}
		require.NoError(t, err)
	}
	return ids
}

func TestJobPageShowsChildren(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, be func(testing.TB) backend.Backend) {
		b := setup(t, be, Options{})
		ctx := context.Background()
		out := b.queues[0]
		// Empty the seeded ready jobs so the children are the only ones.
		_, err := out.Drain(ctx, false)
		require.NoError(t, err)
		jobs, err := out.AddFlow(ctx, fila.FlowJob{Name: "report", Children: []fila.FlowJob{
			{Name: "ok-a"},
			{Name: "bad-b", OnChildFailure: fila.IgnoreFailure},
			{Name: "later", Options: &fila.JobOptions{Delay: time.Hour}},
		}})
		require.NoError(t, err)
		parent := jobs[0].ID
		ids := runFlowChildren(t, b.be, "outbound", "ok-a", "bad-b")

		code, body := b.get(t, "queues/outbound/jobs/"+parent)
		require.Equal(t, http.StatusOK, code)
		requireNoXSS(t, body)
		require.Contains(t, body, `<span class="state state-waiting-children" id="job-state">waiting-children</span>`)
		require.Contains(t, body, "(1 of 3 pending)")
		require.Contains(t, body, `<a href="/admin/queues/queues/outbound/jobs/`+ids["ok-a"]+`">`+ids["ok-a"]+`</a>`)
		require.Contains(t, body, `<code>{&#34;n&#34;:&#34;ok-a&#34;}</code>`, "the value is compacted")
		require.Contains(t, body, `<a href="/admin/queues/queues/outbound/jobs/`+ids["bad-b"]+`">`)
		require.Contains(t, body, "bad &lt;script&gt;")

		_, body = b.get(t, "queues/outbound/jobs/"+ids["ok-a"])
		require.NotContains(t, body, `id="children"`, "a child that has none gets no section")

		t.Run("the queue page counts and lists waiting-children", func(t *testing.T) {
			_, body := b.get(t, "queues/outbound?state=waiting-children")
			require.Regexp(t, `data-count="outbound" data-state="waiting-children">1<`, body)
			require.Contains(t, body, `/jobs/`+parent+`"`)
			require.Contains(t, body, "Jobs 1–1 of 1")
		})
	})
}

func TestChildrenInAnotherQueueLinkThere(t *testing.T) {
	t.Parallel()
	b := setup(t, backends[0].new, Options{}) // memory: a tree may span queues
	ctx := context.Background()
	for _, q := range b.queues {
		_, err := q.Drain(ctx, false)
		require.NoError(t, err)
	}
	jobs, err := b.queues[0].AddFlow(ctx, fila.FlowJob{Name: "report", Children: []fila.FlowJob{
		{Queue: "inbound", Name: "ok-in"},
		{Queue: "inbound", Name: "wait-in"},
		{Name: "ok:colon", Options: &fila.JobOptions{JobID: "odd:id", Delay: time.Hour}},
	}})
	require.NoError(t, err)
	require.NoError(t, b.queues[1].Resume(ctx))
	ids := runFlowChildren(t, b.be, "inbound", "ok-in")

	_, body := b.get(t, "queues/outbound/jobs/"+jobs[0].ID)
	require.Contains(t, body, "(2 of 3 pending)")
	key := "inbound:" + ids["ok-in"]
	require.Contains(t, body, `<a href="/admin/queues/queues/inbound/jobs/`+ids["ok-in"]+`">`+key+`</a>`)

	// A key whose prefix is no queue of the dashboard is an ID of the
	// parent's queue.
	require.NoError(t, b.queues[0].Promote(ctx, "odd:id"))
	res, err := b.be.JobClaim(ctx, &backend.JobClaimParams{Queue: "outbound", Token: "t", LockDuration: time.Hour})
	require.NoError(t, err)
	require.Equal(t, "odd:id", res.Job.ID)
	_, err = b.be.JobComplete(ctx, &backend.JobCompleteParams{Queue: "outbound", ID: "odd:id", Token: "t", ReturnValue: []byte(`7`)})
	require.NoError(t, err)
	_, body = b.get(t, "queues/outbound/jobs/"+jobs[0].ID)
	require.Contains(t, body, `<a href="/admin/queues/queues/outbound/jobs/`+url.PathEscape("odd:id")+`">odd:id</a>`)
}

// plainBackend hides every optional interface (flows, groups, schedulers)
// of the backend it wraps.
type plainBackend struct{ backend.Backend }

func TestBackendWithoutFeaturesShowsNoSections(t *testing.T) {
	t.Parallel()
	be := plainBackend{memory.New()}
	q := fila.NewQueue(be, "q")
	j, err := q.Add(context.Background(), "send", []byte(`{}`), nil)
	require.NoError(t, err)
	h, err := New([]*fila.Queue{q}, Options{})
	require.NoError(t, err)
	for _, path := range []string{"/queues/q?state=waiting", "/queues/q/jobs/" + j.ID} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusOK, rec.Code, path)
		body := rec.Body.String()
		for _, section := range []string{`id="children"`, `id="groups-link"`, `id="schedulers"`} {
			require.NotContains(t, body, section, path)
		}
	}
	require.Regexp(t, regexp.MustCompile(`data-state="waiting-children">0<`), func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/queues/q", nil))
		return rec.Body.String()
	}())
}

func TestChildKeysSortNumbersByValue(t *testing.T) {
	t.Parallel()
	keys := []string{"b", "10", "inbound:3", "2", "a:1", "1"}
	slices.SortFunc(keys, compareKeys)
	require.Equal(t, []string{"1", "2", "10", "a:1", "b", "inbound:3"}, keys)
}
