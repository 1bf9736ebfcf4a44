package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
)

// oddGroup is a group ID with a slash and markup: one path segment,
// shown as text.
const oddGroup = "bob/<b>"

// addGroups gives queue outbound two jobs in group alice and one in
// oddGroup, which is paused. It returns alice's job IDs in run order.
func addGroups(t *testing.T, q *fila.Queue) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	for _, g := range []string{"alice", "alice", oddGroup} {
		j, err := q.Add(ctx, "send-"+g, nil, &fila.JobOptions{Group: g})
		require.NoError(t, err)
		if g == "alice" {
			ids = append(ids, j.ID)
		}
	}
	require.NoError(t, q.PauseGroup(ctx, oddGroup))
	return ids
}

func groupCounts(t *testing.T, q *fila.Queue, g string) *fila.GroupCounts {
	t.Helper()
	c, err := q.GroupCounts(context.Background(), g)
	require.NoError(t, err)
	return c
}

func TestGroups(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, be func(testing.TB) backend.Backend) {
		t.Run("the groups page lists groups with counts, switches and buttons", func(t *testing.T) {
			b := setup(t, be, Options{})
			_, body := b.get(t, "queues/outbound")
			require.Contains(t, body, `<a href="/admin/queues/queues/outbound/groups" id="groups-link">`, "the queue page links its groups")
			_, body = b.get(t, "queues/outbound/groups")
			require.Contains(t, body, "No group of this queue has jobs")
			addGroups(t, b.queues[0])
			code, body := b.get(t, "queues/outbound/groups")
			require.Equal(t, http.StatusOK, code)
			requireNoXSS(t, body)
			require.Contains(t, body, `<p class="note" id="groups">2 groups, the most waiting first`)
			// alice first: the most waiting.
			alice := strings.Index(body, `href="/admin/queues/queues/outbound/groups/alice">alice</a></td>
<td>2</td>
<td>0</td>
<td>-</td>
<td>running</td>`)
			bob := strings.Index(body, `href="/admin/queues/queues/outbound/groups/bob%2F%3Cb%3E">bob/&lt;b&gt;</a></td>
<td>1</td>
<td>0</td>
<td>-</td>
<td><span class="switch">paused</span></td>`)
			require.True(t, alice > 0 && bob > alice, "alice's row, then bob's:\n%s", body)
			require.Contains(t, body, `action="/admin/queues/queues/outbound/groups/alice/actions/pause"`)
			require.Contains(t, body, `action="/admin/queues/queues/outbound/groups/bob%2F%3Cb%3E/actions/resume"`)
			require.Contains(t, body, `<input type="hidden" name="from" value="groups">`)
		})
		t.Run("the group page lists its waiting jobs in run order", func(t *testing.T) {
			b := setup(t, be, Options{PageSize: 1})
			ids := addGroups(t, b.queues[0])
			code, body := b.get(t, "queues/outbound/groups/alice")
			require.Equal(t, http.StatusOK, code)
			require.Contains(t, body, `<dd id="group-waiting">2</dd>`)
			require.Contains(t, body, "/jobs/"+ids[0]+`"`)
			require.NotContains(t, body, "/jobs/"+ids[1]+`"`, "one job a page")
			require.Contains(t, body, `href="/admin/queues/queues/outbound/groups/alice?offset=1" rel="next"`)
			_, body = b.get(t, "queues/outbound/groups/alice?offset=1")
			require.Contains(t, body, "/jobs/"+ids[1]+`"`)
			require.Contains(t, body, "Jobs 2–2 of 2")

			code, body = b.get(t, "queues/outbound/groups/"+url.PathEscape(oddGroup))
			require.Equal(t, http.StatusOK, code)
			requireNoXSS(t, body)
			require.Contains(t, body, `<span class="switch" id="group-switch">paused</span>`)
			require.Contains(t, body, `data-group-action="resume"`)

			_, body = b.get(t, "queues/outbound/jobs/"+ids[0])
			require.Contains(t, body, `<dt>Group</dt><dd><a href="/admin/queues/queues/outbound/groups/alice">alice</a></dd>`, "a job links its group")

			code, _ = b.get(t, "queues/outbound/groups/alice?offset=-1")
			require.Equal(t, http.StatusBadRequest, code)
			code, _ = b.get(t, "queues/outbound/groups/"+url.PathEscape("has space"))
			require.Equal(t, http.StatusBadRequest, code)
		})
		t.Run("pause and resume ask first, then switch the group and go back", func(t *testing.T) {
			b := setup(t, be, Options{})
			q := b.queues[0]
			addGroups(t, q)
			tok := b.token(t)
			path := "queues/outbound/groups/alice/actions/pause"
			resp, body := b.post(t, path, url.Values{"csrf_token": {tok}, "from": {"groups"}})
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Contains(t, body, `name="confirm" value="yes"`)
			require.Contains(t, body, `Pause group &#34;alice&#34; of &#34;outbound&#34;?`)
			require.False(t, groupCounts(t, q, "alice").Paused, "nothing happens before the confirmation")
			resp, _ = b.post(t, path, url.Values{"csrf_token": {tok}, "from": {"groups"}, "confirm": {"yes"}})
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			require.Equal(t, "/admin/queues/queues/outbound/groups?done=pause-group", resp.Header.Get("Location"))
			require.True(t, groupCounts(t, q, "alice").Paused)
			_, body = b.get(t, "queues/outbound/groups?done=pause-group")
			require.Contains(t, body, "Group paused.")

			odd := "queues/outbound/groups/" + url.PathEscape(oddGroup)
			resp, _ = b.post(t, odd+"/actions/resume", url.Values{"csrf_token": {tok}, "from": {"group"}, "confirm": {"yes"}})
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			require.Equal(t, "/admin/queues/"+odd+"?done=resume-group", resp.Header.Get("Location"))
			require.False(t, groupCounts(t, q, oddGroup).Paused)

			resp, _ = b.post(t, "queues/outbound/groups/alice/actions/explode", url.Values{"csrf_token": {tok}, "confirm": {"yes"}})
			require.Equal(t, http.StatusNotFound, resp.StatusCode)
			resp, _ = b.post(t, "queues/outbound/groups/"+url.PathEscape("has space")+"/actions/pause", url.Values{"csrf_token": {tok}, "confirm": {"yes"}})
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		})
		t.Run("a group action without the CSRF token is refused", func(t *testing.T) {
			b := setup(t, be, Options{})
			q := b.queues[0]
			addGroups(t, q)
			tok := b.token(t)
			for _, form := range []url.Values{{}, {"csrf_token": {"forged"}}, {"csrf_token": {tok[:20]}}} {
				form.Set("confirm", "yes")
				resp, body := b.post(t, "queues/outbound/groups/alice/actions/pause", form)
				require.Equal(t, http.StatusForbidden, resp.StatusCode)
				require.Contains(t, body, "CSRF token")
			}
			require.False(t, groupCounts(t, q, "alice").Paused)
		})
		t.Run("read-only hides the buttons and refuses the actions", func(t *testing.T) {
			b := setup(t, be, Options{ReadOnly: true})
			q := b.queues[0]
			addGroups(t, q)
			for _, p := range []string{"queues/outbound/groups", "queues/outbound/groups/alice"} {
				code, body := b.get(t, p)
				require.Equal(t, http.StatusOK, code)
				require.NotContains(t, body, `method="post"`, p)
				require.NotContains(t, body, "data-group-action", p)
			}
			resp, _ := b.post(t, "queues/outbound/groups/alice/actions/pause", url.Values{"confirm": {"yes"}})
			require.Equal(t, http.StatusForbidden, resp.StatusCode)
			require.False(t, groupCounts(t, q, "alice").Paused)
		})
	})
}

func TestSchedulerRemove(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, be func(testing.TB) backend.Backend) {
		b := setup(t, be, Options{})
		q := b.queues[0]
		ctx := context.Background()
		s, err := q.UpsertScheduler(ctx, "digest/<b>", fila.Schedule{Every: time.Hour}, "digest", nil, nil)
		require.NoError(t, err)
		path := "queues/outbound/schedulers/" + url.PathEscape(s.ID) + "/actions/remove"
		_, body := b.get(t, "queues/outbound")
		require.Contains(t, body, `action="/admin/queues/`+path+`"`)
		tok := b.token(t)

		resp, body := b.post(t, path, url.Values{"confirm": {"yes"}})
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "no CSRF token")
		require.Contains(t, body, "CSRF token")
		resp, body = b.post(t, path, url.Values{"csrf_token": {tok}})
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, body, `name="confirm" value="yes"`)
		requireNoXSS(t, body)
		_, err = q.Scheduler(ctx, s.ID)
		require.NoError(t, err, "nothing happens before the confirmation")

		resp, _ = b.post(t, path, url.Values{"csrf_token": {tok}, "confirm": {"yes"}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "/admin/queues/queues/outbound?done=remove-scheduler", resp.Header.Get("Location"))
		_, err = q.Scheduler(ctx, s.ID)
		require.ErrorIs(t, err, fila.ErrSchedulerNotFound)
		_, err = q.GetJob(ctx, s.NextJobID)
		require.ErrorIs(t, err, fila.ErrJobNotFound, "its pending job went with it")
		_, body = b.get(t, "queues/outbound?done=remove-scheduler")
		require.Contains(t, body, "Scheduler removed.")
		require.NotContains(t, body, `id="schedulers"`)

		resp, body = b.post(t, path, url.Values{"csrf_token": {tok}, "confirm": {"yes"}})
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		require.Contains(t, body, "removed already")
		resp, _ = b.post(t, "queues/outbound/schedulers/x/actions/explode", url.Values{"csrf_token": {tok}, "confirm": {"yes"}})
		require.Equal(t, http.StatusNotFound, resp.StatusCode)

		ro := setup(t, be, Options{ReadOnly: true})
		_, err = ro.queues[0].UpsertScheduler(ctx, "ping", fila.Schedule{Every: time.Hour}, "ping", nil, nil)
		require.NoError(t, err)
		_, body = ro.get(t, "queues/outbound")
		require.Contains(t, body, `id="schedulers"`)
		require.NotContains(t, body, "/schedulers/ping/actions/remove")
		resp, _ = ro.post(t, "queues/outbound/schedulers/ping/actions/remove", url.Values{"confirm": {"yes"}})
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})
}

// A backend without groups or schedulers answers their pages and actions
// with 404 and a reason, not an error of the storage.
func TestGroupAndSchedulerActionsOnABackendWithout(t *testing.T) {
	t.Parallel()
	h, err := New([]*fila.Queue{fila.NewQueue(plainBackend{memory.New()}, "q")}, Options{})
	require.NoError(t, err)
	get := func(p string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		return rec.Code, rec.Body.String()
	}
	for _, p := range []string{"/queues/q/groups", "/queues/q/groups/alice"} {
		code, body := get(p)
		require.Equal(t, http.StatusNotFound, code, p)
		require.Contains(t, body, "has no groups", p)
	}
	_, body := get("/queues/q")
	require.NotContains(t, body, "groups-link")
	_, body = get("/")
	tok := csrfInput.FindStringSubmatch(body)
	require.NotNil(t, tok)
	for p, want := range map[string]string{
		"/queues/q/groups/alice/actions/pause":       "has no groups",
		"/queues/q/schedulers/digest/actions/remove": "has no schedulers",
	} {
		req := httptest.NewRequest(http.MethodPost, p, strings.NewReader(url.Values{"csrf_token": {tok[1]}, "confirm": {"yes"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: csrfCookie, Value: tok[1]})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusNotFound, rec.Code, p)
		require.Contains(t, rec.Body.String(), want, p)
	}
}
