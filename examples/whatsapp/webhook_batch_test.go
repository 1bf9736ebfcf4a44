package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend/memory"
	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// asciiJSON escapes every non-ASCII character of a JSON document as \uXXXX,
// the way Meta serializes webhook bodies (whatsapp.md B3: "Meta escapes
// non-ASCII characters (for example \u00e9)").
func asciiJSON(b []byte) []byte {
	var out bytes.Buffer
	for _, r := range string(b) {
		if r < 0x80 {
			out.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&out, `\u%04x`, u)
		}
	}
	return out.Bytes()
}

// A signed batch well inside what Meta sends in one POST (whatsapp.md B4:
// "Notifications can be batched, up to about 1000 updates and about 3 MB
// per POST") must be accepted: any non-200 makes Meta redeliver the same
// body for up to 7 days, so a refused size is refused every time and the
// batch's messages are never processed.
func TestWebhookAcceptsABatchAsLargeAsMetaSends(t *testing.T) {
	t.Parallel()
	be := memory.New()
	t.Cleanup(func() { be.Close() })
	qs := newQueues(be, DefaultSettings(10))
	wh := &webhook{appSecret: testAppSecret, queues: qs, log: slog.New(slog.DiscardHandler), metrics: newWebhookMetrics()}

	// 60 inbound Cyrillic texts of 4,096 characters: 60 updates, ~1.5 MB
	// once Meta has escaped them.
	const n = 60
	text := strings.Repeat("ж", cloudapi.MaxTextLen)
	first := cloudapi.TextNotification(inbound("wamid.big.0"), text)
	for i := 1; i < n; i++ {
		m := cloudapi.TextNotification(inbound(fmt.Sprintf("wamid.big.%d", i)), text)
		first.Entry[0].Changes[0].Value.Messages = append(first.Entry[0].Changes[0].Value.Messages, m.Entry[0].Changes[0].Value.Messages...)
	}
	body := asciiJSON(mustJSON(t, first))
	t.Logf("body: %d updates, %.2f MB", n, float64(len(body))/1e6)
	require.Less(t, len(body), 3_000_000, "inside Meta's documented batch size")

	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/webhook", bytes.NewReader(body))
	req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign(body, testAppSecret))
	rec := httptest.NewRecorder()
	wh.receive(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, "a genuine, signed Meta batch is refused; Meta will redeliver it for 7 days and it is refused every time")
	c, err := qs.inbound.Counts(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, n, c.Waiting)
}
