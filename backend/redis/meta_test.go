package redisbackend

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

func TestMetaTakesNoBytesWhenUnused(t *testing.T) {
	without, err := encodeBody("send", []byte(`{}`), &benchOpts)
	require.NoError(t, err)
	empty := benchOpts
	empty.Meta = map[string]string{}
	withEmpty, err := encodeBody("send", []byte(`{}`), &empty)
	require.NoError(t, err)
	require.Equal(t, without, withEmpty, "an empty map stores what nil does")
	require.NotContains(t, without, "m=")

	with := benchOpts
	with.Meta = benchMeta
	optsWithout, err := encodeOpts(&benchOpts)
	require.NoError(t, err)
	optsWith, err := encodeOpts(&with)
	require.NoError(t, err)
	require.Equal(t, string(optsWithout)+"m=tenant=acme&traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01&tracestate=rojo%3D00f067aa0ba902b7;", string(optsWith),
		"metadata is one option appended, sorted and escaped")
}

func TestMetaValuesCannotForgeOptions(t *testing.T) {
	o := backend.JobOptions{Attempts: 1, Meta: map[string]string{"x": ";rf=1,0,0;", "k;a=9": "=&%"}}
	opts, err := encodeOpts(&o)
	require.NoError(t, err)
	meta := string(opts[strings.Index(string(opts), "m="):])
	require.Equal(t, 1, strings.Count(meta, ";"), "only the option's own terminator: %q", meta)
	var back backend.JobOptions
	require.NoError(t, decodeOpts(&back, string(opts)))
	require.Equal(t, o, back)
}
