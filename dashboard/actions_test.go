package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
)

// state reads a job's state from the backend.
func (b *bundle) state(t *testing.T, id string) fila.State {
	t.Helper()
	j, err := b.queues[0].GetJob(context.Background(), id)
	require.NoError(t, err)
	return j.State
}

func TestActions(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, be func(testing.TB) backend.Backend) {
		t.Run("retry moves a failed job to waiting and redirects to it", func(t *testing.T) {
			b := setup(t, be, Options{})
			resp, _ := b.post(t, "queues/outbound/jobs/"+b.ids["failed"]+"/actions/retry", url.Values{"csrf_token": {b.token(t)}})
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			require.Equal(t, "/admin/queues/queues/outbound/jobs/"+b.ids["failed"]+"?done=retry", resp.Header.Get("Location"))
			require.Equal(t, fila.StateWaiting, b.state(t, b.ids["failed"]))
			_, body := b.get(t, "queues/outbound/jobs/"+b.ids["failed"]+"?done=retry")
			require.Contains(t, body, "Job retried.")
		})
		t.Run("promote moves a delayed job to waiting", func(t *testing.T) {
			b := setup(t, be, Options{})
			resp, _ := b.post(t, "queues/outbound/jobs/"+b.ids["delayed"]+"/actions/promote", url.Values{"csrf_token": {b.token(t)}})
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			require.Equal(t, fila.StateWaiting, b.state(t, b.ids["delayed"]))
		})
		t.Run("remove asks first, then removes", func(t *testing.T) {
			b := setup(t, be, Options{})
			tok := b.token(t)
			path := "queues/outbound/jobs/" + b.ids["waiting"] + "/actions/remove"
			resp, body := b.post(t, path, url.Values{"csrf_token": {tok}})
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Contains(t, body, `name="confirm" value="yes"`)
			require.Equal(t, fila.StateWaiting, b.state(t, b.ids["waiting"]), "nothing happens before the confirmation")
			resp, _ = b.post(t, path, url.Values{"csrf_token": {tok}, "confirm": {"yes"}})
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			_, err := b.queues[0].GetJob(context.Background(), b.ids["waiting"])
			require.ErrorIs(t, err, fila.ErrJobNotFound)
		})
		t.Run("a job action in the wrong state answers 409", func(t *testing.T) {
			b := setup(t, be, Options{})
			resp, _ := b.post(t, "queues/outbound/jobs/"+b.ids["waiting"]+"/actions/promote", url.Values{"csrf_token": {b.token(t)}})
			require.Equal(t, http.StatusConflict, resp.StatusCode)
		})
		t.Run("bulk actions ask first, then run", func(t *testing.T) {
			b := setup(t, be, Options{})
			tok := b.token(t)
			ctx := context.Background()
			out, in := b.queues[0], b.queues[1]
			run := func(q, action string, form url.Values) string {
				form.Set("csrf_token", tok)
				resp, body := b.post(t, "queues/"+q+"/actions/"+action, form)
				require.Equal(t, http.StatusOK, resp.StatusCode, body)
				require.Contains(t, body, `name="confirm" value="yes"`, action)
				form.Set("confirm", "yes")
				resp, body = b.post(t, "queues/"+q+"/actions/"+action, form)
				require.Equal(t, http.StatusSeeOther, resp.StatusCode, body)
				return resp.Header.Get("Location")
			}
			require.Equal(t, "/admin/queues/queues/outbound?done=retry-failed&n=1", run("outbound", "retry-failed", url.Values{}))
			require.Equal(t, fila.StateWaiting, b.state(t, b.ids["failed"]))
			require.Equal(t, "/admin/queues/queues/outbound?done=promote-delayed&n=1", run("outbound", "promote-delayed", url.Values{}))
			require.Equal(t, fila.StateWaiting, b.state(t, b.ids["delayed"]))
			require.Equal(t, "/admin/queues/queues/outbound?done=clean&n=1", run("outbound", "clean", url.Values{"state": {"completed"}, "age": {"0s"}}))
			require.Equal(t, "/admin/queues/queues/inbound?done=resume&n=0", run("inbound", "resume", url.Values{}))
			paused, err := in.IsPaused(ctx)
			require.NoError(t, err)
			require.False(t, paused)
			run("inbound", "pause", url.Values{})
			paused, err = in.IsPaused(ctx)
			require.NoError(t, err)
			require.True(t, paused)
			loc := run("outbound", "drain", url.Values{})
			require.Equal(t, "/admin/queues/queues/outbound?done=drain&n=4", loc) // waiting, prioritized, retried, promoted
			c, err := out.Counts(ctx)
			require.NoError(t, err)
			require.Equal(t, fila.Counts{Active: 1}, *c)
			_, body := b.get(t, "queues/outbound?done=drain&n=4")
			require.Contains(t, body, "Jobs drained: 4")
		})
		t.Run("clean refuses a bad state or age", func(t *testing.T) {
			b := setup(t, be, Options{})
			tok := b.token(t)
			resp, _ := b.post(t, "queues/outbound/actions/clean", url.Values{"csrf_token": {tok}, "state": {"active"}, "age": {"1h"}})
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			resp, _ = b.post(t, "queues/outbound/actions/clean", url.Values{"csrf_token": {tok}, "state": {"completed"}, "age": {"soon"}})
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		})
		t.Run("actions without the CSRF token are refused", func(t *testing.T) {
			b := setup(t, be, Options{})
			tok := b.token(t)
			for _, form := range []url.Values{{}, {"csrf_token": {"forged"}}, {"csrf_token": {tok[:20]}}} {
				form.Set("confirm", "yes")
				resp, body := b.post(t, "queues/outbound/jobs/"+b.ids["failed"]+"/actions/retry", form)
				require.Equal(t, http.StatusForbidden, resp.StatusCode)
				require.Contains(t, body, "CSRF token")
				resp, _ = b.post(t, "queues/outbound/actions/drain", form)
				require.Equal(t, http.StatusForbidden, resp.StatusCode)
			}
			fresh := &http.Client{} // no cookie: the form's token alone is not enough
			resp, err := fresh.PostForm(b.srv.URL+"/admin/queues/queues/outbound/actions/drain", url.Values{"csrf_token": {tok}, "confirm": {"yes"}})
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusForbidden, resp.StatusCode)
			req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/admin/queues/queues/outbound/actions/drain", nil)
			require.NoError(t, err)
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Body = http.NoBody
			resp, err = b.c.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusForbidden, resp.StatusCode)
			require.Equal(t, fila.StateFailed, b.state(t, b.ids["failed"]))
			c, err := b.queues[0].Counts(context.Background())
			require.NoError(t, err)
			require.EqualValues(t, 1, c.Waiting, "nothing was drained")
		})
		t.Run("a GET cannot run an action", func(t *testing.T) {
			b := setup(t, be, Options{})
			code, _ := b.get(t, "queues/outbound/jobs/"+b.ids["failed"]+"/actions/retry")
			require.Equal(t, http.StatusMethodNotAllowed, code)
			require.Equal(t, fila.StateFailed, b.state(t, b.ids["failed"]))
		})
		t.Run("read-only hides actions and refuses them", func(t *testing.T) {
			b := setup(t, be, Options{ReadOnly: true})
			for _, p := range []string{"", "queues/outbound", "queues/outbound/jobs/" + b.ids["failed"], "queues/outbound/jobs/" + b.ids["delayed"]} {
				_, body := b.get(t, p)
				require.NotContains(t, body, `method="post"`, p)
				require.Contains(t, body, "read-only", p)
			}
			// A token from a cookie the dashboard set is still refused.
			_, body := b.get(t, "")
			require.NotContains(t, body, "csrf_token")
			for _, p := range []string{"queues/outbound/jobs/" + b.ids["failed"] + "/actions/retry", "queues/outbound/actions/drain", "queues/inbound/actions/resume"} {
				resp, _ := b.post(t, p, url.Values{"confirm": {"yes"}})
				require.Equal(t, http.StatusForbidden, resp.StatusCode, p)
			}
			require.Equal(t, fila.StateFailed, b.state(t, b.ids["failed"]))
		})
		t.Run("unknown actions answer 404", func(t *testing.T) {
			b := setup(t, be, Options{})
			tok := b.token(t)
			resp, _ := b.post(t, "queues/outbound/actions/obliterate", url.Values{"csrf_token": {tok}, "confirm": {"yes"}})
			require.Equal(t, http.StatusNotFound, resp.StatusCode)
			resp, _ = b.post(t, "queues/outbound/jobs/"+b.ids["failed"]+"/actions/explode", url.Values{"csrf_token": {tok}})
			require.Equal(t, http.StatusNotFound, resp.StatusCode)
		})
	})
}
