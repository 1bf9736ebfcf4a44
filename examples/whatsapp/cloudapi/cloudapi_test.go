package cloudapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"text":"caf\u00e9"}}]}]}`)
	sig := Sign(body, "secret")
	require.Regexp(t, `^sha256=[0-9a-f]{64}$`, sig)
	cases := []struct {
		name   string
		header string
		body   []byte
		want   error
	}{
		{"the signature of the raw bytes", sig, body, nil},
		{"upper-case hex", "sha256=" + string(bytesUpper(sig[len("sha256="):])), body, nil},
		{"no header", "", body, ErrNoSignature},
		{"another secret", Sign(body, "other"), body, ErrBadSignature},
		{"re-encoded JSON is not the raw bytes", sig, []byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"text":"café"}}]}]}`), ErrBadSignature},
		{"no sha256= prefix", sig[len("sha256="):], body, ErrBadSignature},
		{"SHA-1 length", "sha256=" + sig[len("sha256="):len("sha256=")+40], body, ErrBadSignature},
		{"not hex", "sha256=" + string(make([]byte, 64)), body, ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := VerifySignature(c.header, c.body, "secret")
			if c.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, c.want)
			}
		})
	}
}

func bytesUpper(s string) []byte {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return b
}

func TestSizeDecodesNumbersAndStrings(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Size{`303833`: 303833, `"303833"`: 303833, `null`: 0} {
		var m struct {
			S Size `json:"s"`
		}
		require.NoError(t, json.Unmarshal([]byte(`{"s":`+in+`}`), &m), in)
		require.Equal(t, want, m.S, in)
	}
	var m struct {
		S Size `json:"s"`
	}
	require.Error(t, json.Unmarshal([]byte(`{"s":"big"}`), &m))
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	require.Equal(t, 7*time.Second, parseRetryAfter("7", now))
	require.Equal(t, 90*time.Second, parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now))
	require.Zero(t, parseRetryAfter("", now))
	require.Zero(t, parseRetryAfter("soon", now))
	require.Zero(t, parseRetryAfter("-3", now))
}

func TestClient(t *testing.T) {
	t.Parallel()
	var (
		mu         sync.Mutex
		got        MessagesRequest
		auth, path string
	)
	last := func() (MessagesRequest, string, string) {
		mu.Lock()
		defer mu.Unlock()
		return got, auth, path
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req MessagesRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		got, auth, path = req, r.Header.Get("Authorization"), r.URL.Path
		mu.Unlock()
		switch r.URL.Path {
		case "/v25.0/123/messages":
			if req.Status == StatusRead {
				_, _ = w.Write([]byte(`{"success":true}`))
				return
			}
			_, _ = w.Write([]byte(`{"messaging_product":"whatsapp","contacts":[{"input":"1","wa_id":"1"}],"messages":[{"id":"wamid.X"}]}`))
		case "/v25.0/429/messages":
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":{"message":"(#131056) pair rate limit","type":"OAuthException","code":131056,"error_data":{"details":"slow down"},"fbtrace_id":"T"}}`))
		case "/v25.0/502/messages":
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`<html>bad gateway</html>`))
		case "/v25.0/media-1":
			_, _ = w.Write([]byte(`{"messaging_product":"whatsapp","url":"https://x/y","mime_type":"image/png","sha256":"ab","file_size":"42","id":"media-1"}`))
		}
	}))
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(func() { hc.CloseIdleConnections(); srv.Close() })
	c := NewClient(srv.URL+"/v25.0/", "tok", hc)
	ctx := context.Background()

	t.Run("SendText posts a text reply and returns its wamid", func(t *testing.T) {
		id, err := c.SendText(ctx, "123", OutgoingText{To: "1", Body: "hi", ReplyTo: "wamid.in", CallbackData: "send:wamid.in"})
		require.NoError(t, err)
		require.Equal(t, "wamid.X", id)
		got, auth, _ := last()
		require.Equal(t, "Bearer tok", auth)
		require.Equal(t, MessagesRequest{
			MessagingProduct: "whatsapp", RecipientType: "individual", To: "1", Type: TypeText,
			Text: &TextBody{Body: "hi"}, Context: &ReplyTo{MessageID: "wamid.in"}, BizOpaqueCallbackData: "send:wamid.in",
		}, got)
	})
	t.Run("MarkRead posts a read receipt", func(t *testing.T) {
		require.NoError(t, c.MarkRead(ctx, "123", "wamid.in"))
		got, _, _ := last()
		require.Equal(t, MessagesRequest{MessagingProduct: "whatsapp", Status: StatusRead, MessageID: "wamid.in"}, got)
	})
	t.Run("Media looks up a media file", func(t *testing.T) {
		m, err := c.Media(ctx, "media-1")
		require.NoError(t, err)
		_, _, path := last()
		require.Equal(t, "/v25.0/media-1", path)
		require.Equal(t, Size(42), m.FileSize)
		require.Equal(t, "https://x/y", m.URL)
	})
	t.Run("a Graph error becomes an APIError with code, details and Retry-After", func(t *testing.T) {
		_, err := c.SendText(ctx, "429", OutgoingText{To: "1", Body: "hi"})
		e, ok := AsAPIError(err)
		require.True(t, ok)
		require.Equal(t, &APIError{
			Op: `send text to "1"`, HTTPStatus: 429, Code: CodePairRateLimit, Type: "OAuthException",
			Message: "(#131056) pair rate limit", Details: "slow down", TraceID: "T", RetryAfter: 3 * time.Second,
		}, e)
		require.True(t, e.RateLimited())
		require.False(t, e.Temporary())
		require.Equal(t, `cloudapi: send text to "1": HTTP 429, code 131056: (#131056) pair rate limit (slow down)`, e.Error())
	})
	t.Run("a non-JSON error body is kept as the message", func(t *testing.T) {
		_, err := c.SendText(ctx, "502", OutgoingText{To: "1", Body: "hi"})
		e, ok := AsAPIError(err)
		require.True(t, ok)
		require.Equal(t, "<html>bad gateway</html>", e.Message)
		require.True(t, e.Temporary())
	})
	t.Run("a body over 4096 characters is refused before sending", func(t *testing.T) {
		_, err := c.SendText(ctx, "123", OutgoingText{To: "1", Body: string(make([]rune, MaxTextLen+1))})
		require.ErrorContains(t, err, "4097 characters")
		_, isAPI := AsAPIError(err)
		require.False(t, isAPI)
	})
	t.Run("no answer is a plain error", func(t *testing.T) {
		dead := NewClient("http://127.0.0.1:1", "tok", hc)
		err := dead.MarkRead(ctx, "123", "wamid.in")
		require.Error(t, err)
		_, isAPI := AsAPIError(err)
		require.False(t, isAPI)
		require.False(t, errors.Is(err, ErrBadSignature))
	})
}
