package fakegraph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	_ "image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
	"github.com/fila-go/fila/examples/whatsapp/fakegraph"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func setup(t *testing.T, opts fakegraph.Options) (*fakegraph.Server, *cloudapi.Client) {
	t.Helper()
	fake := fakegraph.New(opts)
	srv := httptest.NewServer(fake)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(func() { hc.CloseIdleConnections(); srv.Close(); fake.Close() })
	return fake, cloudapi.NewClient(srv.URL+"/v25.0", "tok", hc)
}

func TestFakeGraph(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	text := cloudapi.OutgoingText{To: "1", Body: "hi", ReplyTo: "wamid.in"}

	t.Run("scripted answers come in order, per kind, then calls succeed", func(t *testing.T) {
		t.Parallel()
		fake, c := setup(t, fakegraph.Options{})
		fake.Script(fakegraph.Send, fakegraph.ServerError(), fakegraph.Throughput())
		require.NoError(t, c.MarkRead(ctx, "123", "wamid.in"), "reads are not scripted")
		_, err := c.SendText(ctx, "123", text)
		e, _ := cloudapi.AsAPIError(err)
		require.Equal(t, 500, e.HTTPStatus)
		_, err = c.SendText(ctx, "123", text)
		e, _ = cloudapi.AsAPIError(err)
		require.Equal(t, cloudapi.CodeThroughput, e.Code)
		id, err := c.SendText(ctx, "123", text)
		require.NoError(t, err)
		sends := fake.Accepted(fakegraph.Send)
		require.Len(t, sends, 1)
		require.Equal(t, id, sends[0].MessageID)
		require.Equal(t, "wamid.in", sends[0].ReplyTo)
		require.Len(t, fake.Calls(), 4)
	})

	t.Run("a wrong token gets 401 code 190", func(t *testing.T) {
		t.Parallel()
		_, c := setup(t, fakegraph.Options{Token: "other"})
		_, err := c.SendText(ctx, "123", text)
		e, ok := cloudapi.AsAPIError(err)
		require.True(t, ok)
		require.Equal(t, cloudapi.CodeAccessToken, e.Code)
	})

	t.Run("held calls wait for Release", func(t *testing.T) {
		t.Parallel()
		fake, c := setup(t, fakegraph.Options{})
		fake.Hold(fakegraph.Read)
		done := make(chan error, 1)
		go func() { done <- c.MarkRead(ctx, "123", "wamid.in") }()
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		require.NoError(t, fake.WaitHeld(wctx, 1))
		require.Empty(t, fake.Calls())
		fake.Release()
		require.NoError(t, <-done)
		require.Len(t, fake.Accepted(fakegraph.Read), 1)
	})

	t.Run("a held call whose client gives up is not recorded", func(t *testing.T) {
		t.Parallel()
		fake, c := setup(t, fakegraph.Options{})
		fake.Hold(fakegraph.Send)
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { _, err := c.SendText(cctx, "123", text); done <- err }()
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		defer wcancel()
		require.NoError(t, fake.WaitHeld(wctx, 1))
		cancel()
		require.Error(t, <-done)
		require.Eventually(t, func() bool { return fake.Held() == 0 }, 5*time.Second, 5*time.Millisecond)
		fake.Release()
		require.Empty(t, fake.Calls())
	})

	t.Run("media lookups describe registered files", func(t *testing.T) {
		t.Parallel()
		fake, c := setup(t, fakegraph.Options{})
		fake.AddMedia("m1", "audio/ogg", []byte("abc"))
		m, err := c.Media(ctx, "m1")
		require.NoError(t, err)
		require.Equal(t, "audio/ogg", m.MimeType)
		require.Equal(t, cloudapi.Size(3), m.FileSize)
		require.Contains(t, m.URL, "/media/m1")
	})

	t.Run("downloads stream a file's bytes up to a limit; unknown IDs are a real JPEG", func(t *testing.T) {
		t.Parallel()
		fake, c := setup(t, fakegraph.Options{})
		fake.AddMedia("m2", "audio/ogg", []byte("0123456789"))
		m, err := c.Media(ctx, "m2")
		require.NoError(t, err)
		var buf bytes.Buffer
		n, err := c.DownloadTo(ctx, m.URL, &buf, 10)
		require.NoError(t, err)
		require.Equal(t, int64(10), n)
		require.Equal(t, "0123456789", buf.String())
		_, err = c.DownloadTo(ctx, m.URL, io.Discard, 9)
		require.ErrorIs(t, err, cloudapi.ErrMediaTooLarge)

		u, err := c.Media(ctx, "unknown")
		require.NoError(t, err)
		buf.Reset()
		_, err = c.DownloadTo(ctx, u.URL, &buf, 1<<20)
		require.NoError(t, err)
		cfg, format, err := image.DecodeConfig(&buf)
		require.NoError(t, err)
		require.Equal(t, "jpeg", format)
		require.Equal(t, 320, cfg.Width)
	})

	t.Run("status webhooks are posted back, signed, echoing the callback data", func(t *testing.T) {
		t.Parallel()
		got := make(chan cloudapi.Status, 3)
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var n cloudapi.Notification
			body, _ := io.ReadAll(r.Body)
			if cloudapi.VerifySignature(r.Header.Get(cloudapi.SignatureHeader), body, "app-secret") != nil {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			_ = json.Unmarshal(body, &n)
			got <- n.Entry[0].Changes[0].Value.Statuses[0]
		}))
		defer app.Close()
		_, c := setup(t, fakegraph.Options{Statuses: &fakegraph.StatusWebhooks{URL: app.URL, AppSecret: "app-secret", Interval: time.Millisecond}})
		text := text
		text.CallbackData = "send:wamid.in"
		id, err := c.SendText(ctx, "123", text)
		require.NoError(t, err)
		for _, want := range []string{"sent", "delivered", "read"} {
			select {
			case s := <-got:
				require.Equal(t, want, s.Status)
				require.Equal(t, id, s.ID)
				require.Equal(t, "send:wamid.in", s.BizOpaqueCallbackData)
			case <-time.After(5 * time.Second):
				t.Fatalf("no %s status webhook", want)
			}
		}
	})
}
