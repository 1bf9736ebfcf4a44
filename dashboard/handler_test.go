package dashboard

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// bundle is a dashboard over a seeded backend, served by httptest, with a
// browser-like client that keeps cookies and does not follow redirects.
type bundle struct {
	*seeded
	h   *Handler
	srv *httptest.Server
	c   *http.Client
}

func setup(t *testing.T, be func(testing.TB) backend.Backend, opt Options) *bundle {
	t.Helper()
	s := seed(t, be(t))
	if opt.BasePath == "" {
		opt.BasePath = "/admin/queues/"
	}
	h, err := New(s.queues, opt)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &bundle{seeded: s, h: h, srv: srv, c: c}
}

// get fetches a path under the base and returns the status and body.
func (b *bundle) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := b.c.Get(b.srv.URL + "/admin/queues/" + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// token loads the overview and returns the CSRF token of its forms.
func (b *bundle) token(t *testing.T) string {
	t.Helper()
	_, body := b.get(t, "")
	m := csrfInput.FindStringSubmatch(body)
	require.NotNil(t, m, "the overview has no form with a CSRF token")
	return m[1]
}

// post submits a form to a path under the base.
func (b *bundle) post(t *testing.T, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := b.c.PostForm(b.srv.URL+"/admin/queues/"+path, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// requireNoXSS fails when the payload reached the page unescaped.
func requireNoXSS(t *testing.T, body string) {
	t.Helper()
	require.NotContains(t, body, "<script>alert")
	require.NotContains(t, body, "<img src=x")
}

func eachBackend(t *testing.T, fn func(t *testing.T, be func(testing.TB) backend.Backend)) {
	for _, bk := range backends {
		t.Run(bk.name, func(t *testing.T) {
			t.Parallel()
			fn(t, bk.new)
		})
	}
}

func TestPages(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, be func(testing.TB) backend.Backend) {
		b := setup(t, be, Options{Title: "Acme <queues>"})

		t.Run("overview shows every queue with counts, switches and a chart", func(t *testing.T) {
			code, body := b.get(t, "")
			require.Equal(t, http.StatusOK, code)
			require.Contains(t, body, "Acme &lt;queues&gt;")
			require.Contains(t, body, `href="/admin/queues/queues/outbound"`)
			require.Contains(t, body, `href="/admin/queues/queues/inbound"`)
			require.Regexp(t, `data-count="outbound" data-state="failed">1<`, body)
			require.Regexp(t, `data-count="inbound" data-state="paused">1<`, body)
			require.Regexp(t, `data-paused="inbound">paused<`, body)
			require.Contains(t, body, `<svg class="chart"`)
			require.Contains(t, body, "1 completed and 1 failed in the last 60 minutes")
			require.Contains(t, body, `action="/admin/queues/queues/inbound/actions/resume"`)
		})
		t.Run("queue page lists one state's jobs, escaped", func(t *testing.T) {
			code, body := b.get(t, "queues/outbound?state=failed")
			require.Equal(t, http.StatusOK, code)
			require.Contains(t, body, `/admin/queues/queues/outbound/jobs/`+b.ids["failed"])
			require.Contains(t, body, "&lt;script&gt;alert(")
			requireNoXSS(t, body)
			require.Contains(t, body, "Jobs 1–1 of 1")
		})
		t.Run("queue page defaults to failed and lists every state", func(t *testing.T) {
			for _, s := range []string{"waiting", "prioritized", "delayed", "active", "completed", "failed"} {
				code, body := b.get(t, "queues/outbound?state="+s)
				require.Equal(t, http.StatusOK, code, s)
				require.Contains(t, body, "/jobs/"+b.ids[s], s)
			}
			_, body := b.get(t, "queues/inbound?state=paused")
			require.Contains(t, body, "/jobs/"+b.ids["paused"])
			_, body = b.get(t, "queues/outbound")
			require.Contains(t, body, "/jobs/"+b.ids["failed"])
		})
		t.Run("search finds a job by ID in any state, else by name", func(t *testing.T) {
			_, body := b.get(t, "queues/outbound?state=failed&q="+b.ids["delayed"])
			require.Contains(t, body, "/jobs/"+b.ids["delayed"])
			require.Contains(t, body, "(delayed)")
			_, body = b.get(t, "queues/outbound?state=waiting&q=SEN")
			require.Contains(t, body, "/jobs/"+b.ids["waiting"])
			require.Contains(t, body, "1 of the first 1 waiting jobs")
			_, body = b.get(t, "queues/outbound?state=waiting&q=nothing-like-it")
			require.Contains(t, body, "No jobs here.")
		})
		t.Run("job page shows data, error, stack, logs and timeline, escaped", func(t *testing.T) {
			code, body := b.get(t, "queues/outbound/jobs/"+b.ids["failed"])
			require.Equal(t, http.StatusOK, code)
			requireNoXSS(t, body)
			require.Contains(t, body, "error &lt;script&gt;")
			require.Contains(t, body, "stack &lt;script&gt;")
			require.Contains(t, body, "log &lt;script&gt;")
			require.Contains(t, body, "(JSON,")
			require.Contains(t, body, "failed for good")
			require.Contains(t, body, `id="action-retry"`)
		})
		t.Run("job page shows raw bytes as a hex dump", func(t *testing.T) {
			_, body := b.get(t, "queues/outbound/jobs/"+b.ids["active"])
			require.Contains(t, body, "bytes (hex)")
			require.Contains(t, body, "ff fe 20 72")
			require.NotContains(t, body, `id="action-remove"`, "an active job cannot be removed")
		})
		t.Run("job page shows the return value of a completed job", func(t *testing.T) {
			_, body := b.get(t, "queues/outbound/jobs/"+b.ids["completed"])
			require.Contains(t, body, `&#34;wamid&#34;: &#34;w.1&#34;`)
		})
		t.Run("a job ID with a slash and markup has its own page", func(t *testing.T) {
			id := "order/42 <b>"
			_, err := b.queues[0].Add(context.Background(), "send", nil, &fila.JobOptions{JobID: id})
			require.NoError(t, err)
			_, body := b.get(t, "queues/outbound?state=waiting")
			link := "/admin/queues/queues/outbound/jobs/" + url.PathEscape(id)
			require.Contains(t, body, `href="`+link+`"`)
			code, body := b.get(t, "queues/outbound/jobs/"+url.PathEscape(id))
			require.Equal(t, http.StatusOK, code)
			require.Contains(t, body, "Job order/42 &lt;b&gt;")
		})
		t.Run("unknown queue, job and state answer 404 and 400", func(t *testing.T) {
			code, body := b.get(t, "queues/"+url.PathEscape(xss))
			require.Equal(t, http.StatusNotFound, code)
			requireNoXSS(t, body)
			code, _ = b.get(t, "queues/outbound/jobs/nope")
			require.Equal(t, http.StatusNotFound, code)
			code, _ = b.get(t, "queues/outbound?state=nope")
			require.Equal(t, http.StatusBadRequest, code)
			code, _ = b.get(t, "queues/outbound?offset=-1")
			require.Equal(t, http.StatusBadRequest, code)
			resp, err := b.c.Get(b.srv.URL + "/elsewhere")
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusNotFound, resp.StatusCode)
		})
		t.Run("snapshot JSON carries counts and the chart", func(t *testing.T) {
			code, body := b.get(t, "api/snapshot")
			require.Equal(t, http.StatusOK, code)
			require.Contains(t, body, `"name":"outbound"`)
			require.Contains(t, body, `"failed":1`)
			require.Contains(t, body, `"chart_svg":"\u003csvg`)
		})
		t.Run("static files are served", func(t *testing.T) {
			code, body := b.get(t, "static/dashboard.js")
			require.Equal(t, http.StatusOK, code)
			require.Contains(t, body, "api/snapshot")
			code, _ = b.get(t, "static/dashboard.css")
			require.Equal(t, http.StatusOK, code)
			code, _ = b.get(t, "static/nope.js")
			require.Equal(t, http.StatusNotFound, code)
		})
	})
}

func TestNoCredentialsShown(t *testing.T) {
	t.Parallel()
	b := setup(t, backends[1].new, Options{})
	for _, p := range []string{"", "queues/outbound", "queues/outbound/jobs/" + b.ids["failed"], "api/snapshot"} {
		_, body := b.get(t, p)
		require.NotContains(t, body, "redis://", p)
		require.False(t, strings.Contains(body, "127.0.0.1:"), "%s shows a server address", p)
	}
}
