package backendtest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// awkwardMeta holds values a naive encoding would break on: separators of
// the Redis record (';', '=', '&', ','), a fake retention option, escapes,
// spaces, non-ASCII text and an empty value.
var awkwardMeta = map[string]string{
	"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	"tracestate":  "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
	"spoof":       ";rf=1,0,0;a=9;",
	"a=b&c":       "%zz + é 日本",
	"empty":       "",
}

func runMeta(t *testing.T, f Factory) {
	t.Run("metadata is returned by get, list and claim", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("a", backend.JobOptions{Meta: awkwardMeta})
		require.Equal(t, awkwardMeta, b.get(id).Options.Meta)
		jobs, err := b.be.JobList(b.ctx, &backend.JobListParams{Queue: b.queue, State: backend.StateWaiting, Limit: 10})
		require.NoError(t, err)
		require.Len(t, jobs, 1)
		require.Equal(t, awkwardMeta, jobs[0].Options.Meta)
		j, _ := b.claim()
		require.Equal(t, awkwardMeta, j.Options.Meta)
		require.Equal(t, 1, j.Options.Attempts, "other options are untouched by the metadata")
	})

	t.Run("a job without metadata reads back nil", func(t *testing.T) {
		b := setup(t, f)
		id := b.add("a", backend.JobOptions{})
		require.Nil(t, b.get(id).Options.Meta)
		id2 := b.add("b", backend.JobOptions{Meta: map[string]string{}})
		require.Empty(t, b.get(id2).Options.Meta, "an empty map stores nothing")
	})

	t.Run("metadata is kept by retries, completion and a manual retry", func(t *testing.T) {
		b := setup(t, f)
		meta := map[string]string{"tenant": "acme", "spoof": ";rf=1,0,0"}
		id := b.add("a", backend.JobOptions{Attempts: 2, Meta: meta})
		j, tok := b.claim()
		_, err := b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "boom", Retry: true})
		require.NoError(t, err)
		j, tok = b.mustClaim()
		require.Equal(t, id, j.ID)
		require.Equal(t, meta, j.Options.Meta, "second attempt")
		_, err = b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "boom again"})
		require.NoError(t, err)
		failed := b.get(id)
		require.Equal(t, backend.StateFailed, failed.State, "the spoofed retention in a value is not read as the job's")
		require.Equal(t, meta, failed.Options.Meta)

		require.NoError(t, b.be.JobRetry(b.ctx, &backend.JobRetryParams{Queue: b.queue, ID: id}))
		j, tok = b.mustClaim()
		require.Equal(t, meta, j.Options.Meta, "after a manual retry")
		b.complete(j.ID, tok)
		require.Equal(t, meta, b.get(id).Options.Meta, "completed")
	})

	t.Run("each job of a batch keeps its own metadata, delayed ones too", func(t *testing.T) {
		b := setup(t, f)
		res := b.addItems(
			backend.JobAddItem{Name: "x", Options: backend.JobOptions{Attempts: 1, Meta: map[string]string{"n": "1"}}},
			backend.JobAddItem{Name: "y", Options: backend.JobOptions{Attempts: 1}},
			backend.JobAddItem{Name: "z", Options: backend.JobOptions{Attempts: 1, Delay: lockFor, Meta: map[string]string{"n": "3"}}},
		)
		require.Equal(t, map[string]string{"n": "1"}, b.get(res[0].ID).Options.Meta)
		require.Nil(t, b.get(res[1].ID).Options.Meta)
		require.Equal(t, map[string]string{"n": "3"}, b.get(res[2].ID).Options.Meta)
		require.Equal(t, backend.StateDelayed, b.get(res[2].ID).State)
	})

	t.Run("the next job claimed by a completion carries its metadata", func(t *testing.T) {
		b := setup(t, f)
		b.add("first", backend.JobOptions{})
		b.add("second", backend.JobOptions{Meta: map[string]string{"k": "v"}})
		j, tok := b.claim()
		res, err := b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: j.ID, Token: tok, Next: b.claimParams(b.token())})
		require.NoError(t, err)
		require.NotNil(t, res.Job)
		require.Equal(t, map[string]string{"k": "v"}, res.Job.Options.Meta)
	})

	t.Run("neither the added map nor a returned one aliases the stored job", func(t *testing.T) {
		b := setup(t, f)
		meta := map[string]string{"k": "v"}
		id := b.add("a", backend.JobOptions{Meta: meta})
		meta["k"] = "changed by the caller"
		got := b.get(id)
		require.Equal(t, map[string]string{"k": "v"}, got.Options.Meta)
		got.Options.Meta["k"] = "changed by a reader"
		require.Equal(t, map[string]string{"k": "v"}, b.get(id).Options.Meta)
	})
}
