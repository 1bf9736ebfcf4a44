package redisbackend

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/fila-go/fila/backend"
)

// The stored job is the one input a worker takes from outside its own
// process: a corrupt or truncated record, state or stack list must decode
// to an error, never a panic (a panic in a claim would crash every worker
// that claims the job in turn).

func FuzzDecodeRecord(f *testing.F) {
	for _, s := range []string{
		"1700000000000:0:0:4:0:sendhello",
		"1700000000000:5:1:4:11:senda=3;t=1000;{\"k\":1}",
		"1:0:0:9223372036854775807:1:x",
		"1:0:0:", "", ":::", "1:2:3:4:5:6",
		"1700000000000:0:0:4:20:senda=3;rc=1,0,0;rf=0,5,9;x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rec string) {
		j := &backend.Job{}
		if err := decodeRecord(j, rec); err != nil {
			return
		}
		if j.Options.LIFO && j.Options.Priority < 0 {
			t.Fatalf("decoded a negative priority from %q", rec)
		}
	})
}

func FuzzDecodeState(f *testing.F) {
	for _, s := range []string{
		"A 1 0 0 1700000000000 0 0 1700000005000 abcd:1",
		"W 0 0 0 0 0 0 0 -", "C 2 2 1 1 2 0 0 -", "", "A", "A 1 2", "Q 1 1 1 1 1 1 1 x",
		"A 99999999999999999999 0 0 0 0 0 0 t", "A -1 -1 -1 -1 -1 -1 -1 t t t",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_ = decodeState(&backend.Job{}, raw)
	})
}

func FuzzDecodeOpts(f *testing.F) {
	for _, s := range []string{
		"a=3;d=1000;bt=exponential;bd=5;bj=0.5;t=9;kl=2;rc=1,0,0;rf=0,10,60000000000;",
		"", ";", "a", "a=", "=1", "rc=1,2", "rc=2,0,0", "bj=NaN;", "zz=1;", "a=99999999999999999999;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = decodeOpts(&backend.JobOptions{}, s)
	})
}

// jobReply builds a job reply as lua/lib_jobs.lua's job_reply does: "J" and seven
// length-prefixed fields.
func jobReply(fields ...string) string {
	s := "J"
	for _, f := range fields {
		s += strconv.Itoa(len(f)) + ":" + f
	}
	return s
}

// FuzzDecodeJob feeds whole job replies built from stored fields. A decode
// error on the record, state or stacks must be a *backend.CorruptJobError
// that still carries the job's ID, so the claim can fail the job.
func FuzzDecodeJob(f *testing.F) {
	f.Add("1", "1700000000000:0:0:1:0:nx", "A 1 0 0 1 0 0 2 t", "", `["stack"]`, "", `"ok"`)
	f.Add("7", "garbage", "W 0 0 0 0 0 0 0 -", "reason", "", "", "")
	f.Add("x", "1:0:0:9223372036854775807:1:x", "", "", "{", "", "")
	f.Add("y", "1:0:0:0:0:", "C 1 1 0 1 1 0 0 -", "", "[1,2]", "1", "null")
	f.Fuzz(func(t *testing.T, id, rec, state, reason, stacks, progress, result string) {
		j, err := decodeJob(jobReply(id, rec, state, reason, stacks, progress, result))
		if err == nil {
			if j.ID != id {
				t.Fatalf("decoded ID %q, want %q", j.ID, id)
			}
			return
		}
		var bad *backend.CorruptJobError
		if !errors.As(err, &bad) || j == nil || j.ID != id || bad.JobID != id {
			t.Fatalf("a bad stored job must give a CorruptJobError with its ID, got %v (job %+v)", err, j)
		}
	})
}

// FuzzDecodeJobReply feeds raw replies, truncated or malformed framing
// included: an error, never a panic.
func FuzzDecodeJobReply(f *testing.F) {
	f.Add(jobReply("1", "1700000000000:0:0:1:0:nx", "A 1 0 0 1 0 0 2 t", "", "", "", ""))
	f.Add("J")
	f.Add("J1:1")
	f.Add("J9223372036854775807:x")
	f.Add("J1:11:x1:y1:z1:a1:b1:c1:d")
	f.Fuzz(func(t *testing.T, reply string) {
		j, err := decodeJob(reply)
		if err == nil && j == nil {
			t.Fatal("nil job without an error")
		}
	})
}

// FuzzBodyRoundTrip checks that whatever a producer may store, a worker
// reads back the same job.
func FuzzBodyRoundTrip(f *testing.F) {
	f.Add("send", []byte(`{"to":"x"}`), 3, int64(time.Second), "exponential", int64(time.Second), 0.5, int64(0), 10, true, 5, 3, int64(time.Hour), "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	f.Add("", []byte{}, 0, int64(0), "", int64(0), 0.0, int64(0), 0, false, 0, 0, int64(0), "", "")
	f.Add("n:1:2", []byte("a=1;"), -1, int64(-5), "custom", int64(-1), 1.0, int64(-1), -3, false, 2097152, -1, int64(-1), "k;rf=1,0,0", "a=b&c;d%zz+ é")
	f.Fuzz(func(t *testing.T, name string, data []byte, attempts int, delay int64, bt string, bd int64, jitter float64,
		timeout int64, keepLogs int, lifo bool, prio, keepLast int, keepFor int64, metaKey, metaValue string) {
		o := backend.JobOptions{
			Attempts: attempts, Delay: time.Duration(delay), Backoff: backend.Backoff{Type: backend.BackoffType(bt), Delay: time.Duration(bd), Jitter: jitter},
			Timeout: time.Duration(timeout), KeepLogs: keepLogs,
			RemoveOnComplete: backend.Retention{KeepLast: keepLast, KeepFor: time.Duration(keepFor)},
			RemoveOnFail:     backend.Retention{Remove: lifo, KeepLast: keepLast},
		}
		if metaKey != "" {
			o.Meta = map[string]string{metaKey: metaValue, "k2": metaKey}
		}
		body, err := encodeBody(name, data, &o)
		if err != nil {
			return // a backoff type with ';' or '=' is refused at encode
		}
		l := "0"
		if lifo {
			l = "1"
		}
		if prio < 0 {
			prio = -prio
		}
		rec := "1700000000000:" + strconv.Itoa(prio) + ":" + l + ":" + body
		j := &backend.Job{}
		if err := decodeRecord(j, rec); err != nil {
			if jitter != jitter { // NaN does not survive a text round trip equal to itself
				return
			}
			t.Fatalf("decode of an encoded body failed: %v (%q)", err, rec)
		}
		want := o
		want.Priority, want.LIFO = prio, lifo
		if jitter != jitter {
			return
		}
		if j.Name != name || !bytes.Equal(j.Data, data) || !reflect.DeepEqual(j.Options, want) {
			t.Fatalf("round trip: got %q %q %+v, want %q %q %+v", j.Name, j.Data, j.Options, name, data, want)
		}
	})
}
