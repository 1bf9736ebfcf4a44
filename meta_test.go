package fila_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
)

func TestMeta(t *testing.T) {
	t.Parallel()

	t.Run("the handler sees the metadata on every attempt", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		meta := map[string]string{"tenant": "acme", "request": "r-1"}
		j := b.add(t, "send", &fila.JobOptions{Attempts: 2, Meta: meta})
		require.Equal(t, meta, j.Options.Meta, "returned by Add")
		var runs runLog
		b.startWorker(t, failTimes(&runs, 1, fmt.Errorf("boom")), fila.WorkerOptions{})
		fin := completed(t, j)
		require.Equal(t, meta, fin.Options.Meta)
		all := runs.all()
		require.Len(t, all, 2)
		for _, r := range all {
			require.Equal(t, meta, r.Options.Meta)
		}
	})

	t.Run("Add's job is a snapshot, not the caller's map", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		meta := map[string]string{"k": "v"}
		j := b.add(t, "a", &fila.JobOptions{Meta: meta})
		meta["k"] = "changed"
		require.Equal(t, "v", j.Options.Meta["k"])
		require.Equal(t, "v", b.get(t, j.ID).Options.Meta["k"])
	})

	t.Run("the queue's Defaults give metadata to jobs without their own", func(t *testing.T) {
		t.Parallel()
		b := setup(t, fila.QueueOptions{Defaults: fila.JobOptions{Meta: map[string]string{"service": "api"}}})
		require.Equal(t, map[string]string{"service": "api"}, b.get(t, b.add(t, "a", nil).ID).Options.Meta)
		own := map[string]string{"k": "v"}
		require.Equal(t, own, b.get(t, b.add(t, "b", &fila.JobOptions{Meta: own}).ID).Options.Meta)
	})

	t.Run("bounds and bad text are refused at Add and nothing is stored", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		many := map[string]string{}
		for i := range fila.MaxMetaEntries + 1 {
			many[fmt.Sprint("k", i)] = "v"
		}
		cases := []struct {
			name  string
			meta  map[string]string
			field string
			says  string
		}{
			{"too many entries", many, "Meta", "has 33 entries, limit 32 (MaxMetaEntries)"},
			{"too many bytes", map[string]string{"k": strings.Repeat("x", fila.MaxMetaBytes)}, "Meta", "is 4097 bytes (keys and values), limit 4096 (MaxMetaBytes)"},
			{"empty key", map[string]string{"": "v"}, "Meta key", "is empty"},
			{"control character in a key", map[string]string{"a\nb": "v"}, "Meta key", "has a control character"},
			{"value not UTF-8", map[string]string{"k": "\xff"}, "Meta[k]", "is not valid UTF-8"},
		}
		for _, c := range cases {
			_, err := b.queue.Add(b.ctx, "a", nil, &fila.JobOptions{Meta: c.meta})
			ve := requireInvalid(t, err, c.field)
			require.Contains(t, ve.Reason, c.says, c.name)
			_, err = b.queue.AddBulk(b.ctx, []fila.BulkJob{{Name: "ok"}, {Name: "bad", Options: &fila.JobOptions{Meta: c.meta}}})
			requireInvalid(t, err, c.field)
		}
		require.Equal(t, fila.Counts{}, b.counts(t))

		limit := map[string]string{"k": strings.Repeat("x", fila.MaxMetaBytes-1)}
		require.Equal(t, limit, b.get(t, b.add(t, "at the limit", &fila.JobOptions{Meta: limit}).ID).Options.Meta)
	})
}

// ctxKey carries a value from the producer's context into an AddHook.
type ctxKey struct{}

func TestAddHook(t *testing.T) {
	t.Parallel()

	t.Run("a hook sets metadata from the add's context, per job, without touching the caller's map", func(t *testing.T) {
		t.Parallel()
		var ended []string
		b := setup(t, fila.QueueOptions{AddHooks: []fila.AddHook{func(ctx context.Context, a *fila.Adding) func(*fila.Job, error) {
			if v, ok := ctx.Value(ctxKey{}).(string); ok {
				if a.Options.Meta == nil {
					a.Options.Meta = map[string]string{}
				}
				a.Options.Meta["request"] = v + "/" + a.Name
			}
			return func(j *fila.Job, err error) {
				require.NoError(t, err)
				ended = append(ended, j.ID)
			}
		}}})
		ctx := context.WithValue(b.ctx, ctxKey{}, "r-7")
		shared := map[string]string{"tenant": "acme"}
		jobs, err := b.queue.AddBulk(ctx, []fila.BulkJob{
			{Name: "x", Options: &fila.JobOptions{Meta: shared}},
			{Name: "y", Options: &fila.JobOptions{Meta: shared}},
		})
		require.NoError(t, err)
		require.Equal(t, map[string]string{"tenant": "acme"}, shared, "the caller's map is untouched")
		require.Equal(t, map[string]string{"tenant": "acme", "request": "r-7/x"}, b.get(t, jobs[0].ID).Options.Meta)
		require.Equal(t, map[string]string{"tenant": "acme", "request": "r-7/y"}, b.get(t, jobs[1].ID).Options.Meta)
		require.Equal(t, []string{jobs[0].ID, jobs[1].ID}, ended, "each add's end is reported with its job")

		j, err := b.queue.Add(b.ctx, "z", []byte(`{}`), nil)
		require.NoError(t, err)
		require.Nil(t, b.get(t, j.ID).Options.Meta, "no value in the context: the hook added nothing")
	})

	t.Run("a hook's metadata is validated, and its end sees the error", func(t *testing.T) {
		t.Parallel()
		var errs []error
		b := setup(t, fila.QueueOptions{AddHooks: []fila.AddHook{func(_ context.Context, a *fila.Adding) func(*fila.Job, error) {
			a.Options.Meta = map[string]string{"": "bad key"}
			return func(j *fila.Job, err error) {
				require.Nil(t, j)
				errs = append(errs, err)
			}
		}}})
		_, err := b.queue.Add(b.ctx, "a", nil, nil)
		requireInvalid(t, err, "Meta key")
		require.Len(t, errs, 1)
		require.ErrorIs(t, errs[0], fila.ErrInvalid)
		require.Equal(t, fila.Counts{}, b.counts(t))
	})
}
