package fila_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
)

func TestAddRejectsBadInput(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		queue     string // default queueName, unless the queue name is at fault
		queueOpts fila.QueueOptions
		jobName   string // default "send", unless the job name is at fault
		data      []byte
		opts      *fila.JobOptions
		field     string
		message   string // a further part of the message, if any
	}{
		{name: "empty queue name", queue: "", field: "queue name", message: "is empty"},
		{name: "queue name with a brace", queue: "out{bound}", field: "queue name", message: `'{'`},
		{name: "queue name with a space", queue: "out bound", field: "queue name"},
		{name: "queue name with a non-ascii letter", queue: "ñandú", field: "queue name", message: `"ñandú" has 'ñ' at character 1`},
		{name: "queue name with a non-ascii letter inside", queue: "out-ñ", field: "queue name", message: `has 'ñ' at character 5`},
		{name: "queue name that is not utf-8", queue: "ab\xffc", field: "queue name", message: "invalid UTF-8 byte 0xff at character 3"},
		{name: "queue name too long", queue: strings.Repeat("q", 129), field: "queue name", message: "limit 128"},
		{name: "negative delay", opts: &fila.JobOptions{Delay: -time.Second}, field: "Delay", message: "-1s"},
		{name: "negative attempts", opts: &fila.JobOptions{Attempts: -1}, field: "Attempts"},
		{name: "negative priority", opts: &fila.JobOptions{Priority: -1}, field: "Priority"},
		{name: "priority above max", opts: &fila.JobOptions{Priority: fila.MaxPriority + 1}, field: "Priority"},
		{name: "lifo with a priority", opts: &fila.JobOptions{Priority: 2, LIFO: true}, field: "LIFO", message: "LIFO cannot be combined with Priority 2"},
		{
			name: "lifo with a default priority", queueOpts: fila.QueueOptions{Defaults: fila.JobOptions{Priority: 3}},
			opts: &fila.JobOptions{LIFO: true}, field: "LIFO", message: "Priority 3",
		},
		{name: "negative timeout", opts: &fila.JobOptions{Timeout: -1}, field: "Timeout"},
		{name: "negative keep logs", opts: &fila.JobOptions{KeepLogs: -1}, field: "KeepLogs"},
		{name: "unknown backoff type", opts: &fila.JobOptions{Backoff: fila.Backoff{Type: "linear"}}, field: "Backoff.Type", message: `"linear"`},
		{name: "KeepAll with a limit", opts: &fila.JobOptions{RemoveOnFail: fila.Retention{KeepAll: true, KeepLast: 5}}, field: "RemoveOnFail.KeepAll", message: "set alone"},
		{name: "negative backoff delay", opts: &fila.JobOptions{Backoff: fila.Backoff{Delay: -1}}, field: "Backoff.Delay"},
		{name: "jitter below 0", opts: &fila.JobOptions{Backoff: fila.Backoff{Jitter: -0.1}}, field: "Backoff.Jitter"},
		{name: "jitter above 1", opts: &fila.JobOptions{Backoff: fila.Backoff{Jitter: 1.5}}, field: "Backoff.Jitter"},
		{name: "dedup with empty id", opts: &fila.JobOptions{Dedup: &fila.Dedup{TTL: time.Minute}}, field: "Dedup.ID"},
		{name: "dedup with zero ttl", opts: &fila.JobOptions{Dedup: &fila.Dedup{ID: "d"}}, field: "Dedup.TTL"},
		{name: "all-digit job id", opts: &fila.JobOptions{JobID: "12345"}, field: "JobID", message: "all digits"},
		{name: "job id with a control character", opts: &fila.JobOptions{JobID: "a\nb"}, field: "JobID"},
		{name: "job id too long", opts: &fila.JobOptions{JobID: strings.Repeat("x", 257)}, field: "JobID"},
		{name: "negative keep last", opts: &fila.JobOptions{RemoveOnComplete: fila.Retention{KeepLast: -1}}, field: "RemoveOnComplete.KeepLast"},
		{name: "negative keep for", opts: &fila.JobOptions{RemoveOnFail: fila.Retention{KeepFor: -time.Second}}, field: "RemoveOnFail.KeepFor"},
		{name: "empty job name", field: "job name", message: "is empty"},
		{name: "job name that is not utf-8", jobName: "\xff", field: "job name"},
		{name: "job name with a control character", jobName: "send\x7f", field: "job name"},
		{
			name: "data above the default limit", data: bytes.Repeat([]byte("x"), 2*fila.DefaultMaxDataSize+fila.DefaultMaxDataSize/10),
			field: "data", message: "data is 2.1 MiB, limit 1 MiB",
		},
		{
			name: "data a byte above the default limit", data: make([]byte, fila.DefaultMaxDataSize+1),
			field: "data", message: "data is 1048577 B, limit 1048576 B",
		},
		{
			name: "data above a configured limit", queueOpts: fila.QueueOptions{MaxDataSize: 16}, data: make([]byte, 17),
			field: "data", message: "data is 17 B, limit 16 B",
		},
		{
			name: "bad queue defaults", queueOpts: fila.QueueOptions{Defaults: fila.JobOptions{Attempts: -3}},
			field: "Attempts",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			be := memory.New()
			queue, jobName := tt.queue, tt.jobName
			if queue == "" && tt.field != "queue name" {
				queue = queueName
			}
			if jobName == "" && tt.field != "job name" {
				jobName = "send"
			}
			q := fila.NewQueue(be, queue, tt.queueOpts)

			job, err := q.Add(t.Context(), jobName, tt.data, tt.opts)
			require.Nil(t, job)
			ve := requireInvalid(t, err, tt.field)
			require.NotEmpty(t, ve.Reason)
			require.Contains(t, err.Error(), fmt.Sprintf("%q", queue), "the message names the queue")
			require.Contains(t, err.Error(), tt.message)
			c, err := be.QueueCounts(t.Context(), &backend.QueueParams{Queue: queue})
			require.NoError(t, err)
			require.Equal(t, backend.Counts{}, *c, "nothing was added")
		})
	}
}

func TestAddBulkRejectsABatchWithOneBadJob(t *testing.T) {
	t.Parallel()
	b := setup(t)

	jobs, err := b.queue.AddBulk(b.ctx, []fila.BulkJob{
		{Name: "good-1"},
		{Name: "bad", Options: &fila.JobOptions{Attempts: -1}},
		{Name: "good-2"},
	})
	require.Nil(t, jobs)
	requireInvalid(t, err, "Attempts")
	require.Contains(t, err.Error(), "job 1:")
	require.Contains(t, err.Error(), `"outbound"`)
	require.Equal(t, fila.Counts{}, b.counts(t), "none of the batch was added")
}

func TestAddBulkRejectsLIFOWithAPriority(t *testing.T) {
	t.Parallel()
	b := setup(t)

	jobs, err := b.queue.AddBulk(b.ctx, []fila.BulkJob{
		{Name: "good"},
		{Name: "bad", Options: &fila.JobOptions{Priority: 1, LIFO: true}},
	})
	require.Nil(t, jobs)
	requireInvalid(t, err, "LIFO")
	require.Contains(t, err.Error(), "job 1:")
	require.Contains(t, err.Error(), "Priority 1")
	require.Equal(t, fila.Counts{}, b.counts(t), "none of the batch was added")
}

func TestAddAcceptsTheLimits(t *testing.T) {
	t.Parallel()

	t.Run("DataOfExactlyTheDefaultLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.queue.Add(b.ctx, "send", make([]byte, fila.DefaultMaxDataSize), nil)
		require.NoError(t, err)
	})

	t.Run("AnyDataWithANegativeLimit", func(t *testing.T) {
		t.Parallel()
		b := setup(t, fila.QueueOptions{MaxDataSize: -1})
		_, err := b.queue.Add(b.ctx, "send", make([]byte, 2*fila.DefaultMaxDataSize), nil)
		require.NoError(t, err)
	})

	t.Run("BoundaryValues", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.queue.Add(b.ctx, strings.Repeat("n", 256), nil, &fila.JobOptions{
			JobID: "a1", Priority: fila.MaxPriority, Backoff: fila.Backoff{Type: fila.BackoffFixed, Jitter: 1},
			Dedup: &fila.Dedup{ID: strings.Repeat("d", 256), TTL: time.Nanosecond},
		})
		require.NoError(t, err)
		q := fila.NewQueue(b.be, "Queue_name-1.2")
		_, err = q.Add(b.ctx, "send", nil, nil)
		require.NoError(t, err)
	})
}

func TestQueueOptions(t *testing.T) {
	t.Parallel()

	t.Run("DefaultsFillTheFieldsAnAddLeavesZero", func(t *testing.T) {
		t.Parallel()
		b := setup(t, fila.QueueOptions{Defaults: fila.JobOptions{
			Attempts: 5, Backoff: fila.Backoff{Type: fila.BackoffExponential, Delay: time.Second},
			Timeout: time.Minute, Priority: 7, KeepLogs: 3,
			RemoveOnComplete: fila.KeepLast(10), RemoveOnFail: fila.KeepFor(time.Hour),
		}})

		plain := b.add(t, "plain", nil)
		require.Equal(t, fila.JobOptions{
			Attempts: 5, Backoff: fila.Backoff{Type: fila.BackoffExponential, Delay: time.Second},
			Timeout: time.Minute, Priority: 7, KeepLogs: 3,
			RemoveOnComplete: fila.Retention{KeepLast: 10}, RemoveOnFail: fila.Retention{KeepFor: time.Hour},
		}, b.get(t, plain.ID).Options)
		require.Equal(t, fila.StatePrioritized, plain.State)

		own := b.add(t, "own", &fila.JobOptions{Attempts: 2, Priority: 1, RemoveOnComplete: fila.RemoveJob})
		got := b.get(t, own.ID).Options
		require.Equal(t, 2, got.Attempts)
		require.Equal(t, 1, got.Priority)
		require.Equal(t, fila.RemoveJob, got.RemoveOnComplete)
		require.Equal(t, time.Minute, got.Timeout, "unset fields still take the default")
	})

	t.Run("DefaultsNeverSetJobIDOrDedup", func(t *testing.T) {
		t.Parallel()
		b := setup(t, fila.QueueOptions{Defaults: fila.JobOptions{
			JobID: "fixed", Dedup: &fila.Dedup{ID: "once", TTL: time.Hour},
		}})

		first := b.add(t, "a", nil)
		second := b.add(t, "b", nil)
		require.NotEqual(t, first.ID, second.ID)
		require.False(t, second.Existed)
		require.False(t, second.Deduplicated)
		require.Equal(t, int64(2), b.counts(t).Waiting)
	})

	t.Run("ZeroJobOptionsRunOnceNowAndKeepTheJob", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		job := b.add(t, "send", nil)
		require.Equal(t, fila.JobOptions{Attempts: 1}, b.get(t, job.ID).Options)
		require.Equal(t, fila.StateWaiting, job.State)
	})

	t.Run("MoreThanOneQueueOptionsPanics", func(t *testing.T) {
		t.Parallel()
		require.Panics(t, func() { fila.NewQueue(memory.New(), queueName, fila.QueueOptions{}, fila.QueueOptions{}) })
	})

	t.Run("NilBackendPanics", func(t *testing.T) {
		t.Parallel()
		require.Panics(t, func() { fila.NewQueue(nil, queueName) })
	})

	t.Run("RetentionHelpers", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, fila.Retention{Remove: true}, fila.RemoveJob)
		require.Equal(t, fila.Retention{KeepLast: 3}, fila.KeepLast(3))
		require.Equal(t, fila.Retention{KeepFor: time.Minute}, fila.KeepFor(time.Minute))
		require.Equal(t, fila.Retention{KeepAll: true}, fila.KeepAll)
	})
}
