package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
)

func TestShowPrintsJobMetadata(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	meta := map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tenant": "acme\tcorp"}
	id := f.add(fila.NewQueue(f.be, "outbound"), "send", `{}`, &fila.JobOptions{Meta: meta})

	out := f.ok("show", "outbound", id)
	require.Contains(t, out, "Meta:         tenant=\"acme\\tcorp\"\n")
	require.Contains(t, out, "\n              traceparent=\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"\n")

	var j struct {
		Options struct {
			Meta map[string]string `json:"meta"`
		} `json:"options"`
	}
	require.NoError(t, json.Unmarshal([]byte(f.ok("show", "outbound", id, "-json")), &j))
	require.Equal(t, meta, j.Options.Meta)

	out = f.ok("show", "outbound", f.ids["waiting"])
	require.NotContains(t, out, "Meta:", "a job without metadata shows no Meta row")
}
