package fila_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila"
	redisbackend "github.com/fila-go/fila/backend/redis"
)

// keyRecorder is a go-redis hook that collects the keys of every script
// call (EVAL, EVALSHA, FCALL: the keys are the numkeys arguments after the
// script) and the first argument of any other command.
type keyRecorder struct {
	mu   sync.Mutex
	keys []string
}

func (k *keyRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (k *keyRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		k.record(cmd)
		return next(ctx, cmd)
	}
}

func (k *keyRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			k.record(c)
		}
		return next(ctx, cmds)
	}
}

func (k *keyRecorder) record(cmd redis.Cmder) {
	args := cmd.Args()
	k.mu.Lock()
	defer k.mu.Unlock()
	switch strings.ToLower(cmd.Name()) {
	case "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro":
		if len(args) < 3 {
			return
		}
		n, _ := strconv.Atoi(redisArg(args[2]))
		for i := 3; i < 3+n && i < len(args); i++ {
			k.keys = append(k.keys, redisArg(args[i]))
		}
	case "ping", "hello", "client", "function", "script":
	default:
		if len(args) > 1 {
			k.keys = append(k.keys, redisArg(args[1]))
		}
	}
}

func (k *keyRecorder) take() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := k.keys
	k.keys = nil
	return out
}

func redisArg(a any) string {
	switch v := a.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return ""
}

// FuzzQueueAdd sends arbitrary queue names, job names, IDs, payloads and
// options through Queue.Add on the Redis backend (over miniredis). Nothing
// panics; a refused add is a *fila.ValidationError and sends nothing; an
// accepted add stores the job as given, and every key the backend touched
// for it carries exactly one hash tag, the queue's name, so user input can
// never reach another queue's slot or key.
func FuzzQueueAdd(f *testing.F) {
	f.Add("outbound", "send", "wamid.1", "dedup-1", []byte(`{"to":"x"}`), int64(0), 0, false, 3, "exponential", int64(time.Second), 0.5, int64(0), 10, int64(0), 0)
	f.Add("a}b", "n", "", "", []byte{}, int64(-1), -1, true, -1, "linear", int64(-1), 2.0, int64(-1), -1, int64(-1), -1)
	f.Add("{q}", "na\x00me", "123", "", []byte("x"), int64(time.Hour), fila.MaxPriority+1, false, 0, "", int64(0), 0.0, int64(0), 0, int64(0), 0)
	f.Add("q.1-_Z", "ünï", "id}{", "{d}", []byte("payload"), int64(time.Millisecond), fila.MaxPriority, true, 1, "fixed", int64(time.Millisecond), 1.0, int64(time.Second), 5, int64(time.Minute), 2)
	f.Add(strings.Repeat("q", 129), strings.Repeat("n", 257), "x", "", []byte(nil), int64(0), 1, false, 1, "custom", int64(0), 0.0, int64(0), 0, int64(0), 0)

	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(mr.Close)
	rec := &keyRecorder{}
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), Protocol: 2})
	rdb.AddHook(rec)
	be := redisbackend.New(rdb)
	f.Cleanup(func() { be.Close(); rdb.Close() })
	ctx := context.Background()

	f.Fuzz(func(t *testing.T, queue, name, jobID, dedupID string, data []byte, delay int64, prio int, lifo bool,
		attempts int, backoffType string, backoffDelay int64, jitter float64, timeout int64, keepLogs int, keepFor int64, keepLast int) {
		mr.FlushAll()
		rec.take()
		opts := &fila.JobOptions{
			JobID: jobID, Delay: time.Duration(delay), Priority: prio, LIFO: lifo, Attempts: attempts,
			Backoff: fila.Backoff{Type: fila.BackoffType(backoffType), Delay: time.Duration(backoffDelay), Jitter: jitter},
			Timeout: time.Duration(timeout), KeepLogs: keepLogs,
			RemoveOnComplete: fila.Retention{KeepLast: keepLast, KeepFor: time.Duration(keepFor)},
			RemoveOnFail:     fila.Retention{KeepLast: keepLast},
		}
		if dedupID != "" {
			opts.Dedup = &fila.Dedup{ID: dedupID, TTL: time.Duration(max(keepFor, 1))}
		}
		q := fila.NewQueue(be, queue)
		job, err := q.Add(ctx, name, data, opts)
		keys := rec.take()
		if err != nil {
			var ve *fila.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, fila.ErrInvalid) {
				t.Fatalf("Add(%q, %q) failed with a non-validation error: %v", queue, name, err)
			}
			if len(keys) > 0 {
				t.Fatalf("a refused add sent commands for keys %q", keys)
			}
			return
		}
		want := "{" + queue + "}"
		if len(keys) == 0 {
			t.Fatalf("an accepted add of %q recorded no keys", queue)
		}
		for _, k := range keys {
			if k == "fila:queues" { // the registry of queue names, shared by design
				continue
			}
			if strings.Count(k, "{") != 1 || strings.Count(k, "}") != 1 || !strings.HasPrefix(k, "fila:"+want+":") {
				t.Fatalf("queue %q: key %q escapes the queue's hash tag %s", queue, k, want)
			}
			if tag := k[strings.IndexByte(k, '{') : strings.IndexByte(k, '}')+1]; tag != want {
				t.Fatalf("queue %q: key %q has hash tag %s", queue, k, tag)
			}
		}
		if job.Deduplicated || job.Existed {
			return
		}
		got, err := q.GetJob(ctx, job.ID)
		if err != nil {
			t.Fatalf("get the added job %q: %v", job.ID, err)
		}
		if got.Name != name || !bytes.Equal(got.Data, data) {
			t.Fatalf("stored job differs: name %q data %q, want %q %q", got.Name, got.Data, name, data)
		}
		if jobID != "" && got.ID != jobID {
			t.Fatalf("stored job ID %q, want %q", got.ID, jobID)
		}
		if got.Options.Attempts != max(attempts, 1) || got.Options.Priority != prio || got.Options.Backoff != opts.Backoff ||
			got.Options.Timeout != opts.Timeout || got.Options.RemoveOnComplete != opts.RemoveOnComplete {
			t.Fatalf("stored options differ: %+v, want %+v", got.Options, *opts)
		}
	})
}
