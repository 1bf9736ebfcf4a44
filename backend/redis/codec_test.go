package redisbackend

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// A stored record whose name and options lengths add up past int64 once
// passed the bounds check (the sum wrapped negative) and panicked slicing;
// found by FuzzDecodeRecord. A claim of such a job crashed the worker, and
// the stalled check handed it to the next worker, which crashed too.
func TestDecodeRecordRejectsLengthsThatOverflow(t *testing.T) {
	for _, rec := range []string{
		"1:0:0:9223372036854775807:1:x",
		"1:0:0:1:9223372036854775807:x",
		"1:0:0:9223372036854775807:9223372036854775807:",
		"1:0:0:2:0:x",
		"1:0:0:0:2:x",
	} {
		require.NotPanics(t, func() {
			err := decodeRecord(&backend.Job{}, rec)
			require.ErrorIs(t, err, errRecord, rec)
		}, rec)
	}
	j := &backend.Job{}
	require.NoError(t, decodeRecord(j, "1:0:0:1:0:nx"), "lengths that fit still decode")
	require.Equal(t, "n", j.Name)
	require.Equal(t, []byte("x"), j.Data)
}

// A job's retention survives the record: KeepAll too, which the stalled
// check reads back as "keep everything", not the default.
func TestRetentionRoundTrips(t *testing.T) {
	for _, r := range []backend.Retention{
		{}, {KeepAll: true}, {Remove: true}, {KeepLast: 7, KeepFor: 3e9},
	} {
		opts := backend.JobOptions{Attempts: 1, RemoveOnComplete: r, RemoveOnFail: r}
		body, err := encodeBody("n", nil, &opts)
		require.NoError(t, err)
		j := &backend.Job{}
		require.NoError(t, decodeRecord(j, "1:0:0:"+body))
		require.Equal(t, r, j.Options.RemoveOnComplete, "%+v", r)
		require.Equal(t, r, j.Options.RemoveOnFail, "%+v", r)
	}
}

// lib_jobs.lua's fail_retention (the stalled check's failures) applies
// backend.DefaultKeepFailed to a job without RemoveOnFail.
func TestLibDefaultKeepFailedMatchesBackend(t *testing.T) {
	require.Contains(t, read("lib_jobs"), fmt.Sprintf("local DEFAULT_KEEP_FAILED = %d\n", backend.DefaultKeepFailed))
}
