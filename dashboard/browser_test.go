//go:build unix

package dashboard

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/memory"
)

// chromiumPath finds Debian's chromium, or skips the test (fails it when
// FILA_REQUIRE_BROWSER=1).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("FILA_REQUIRE_BROWSER") == "1" {
		t.Fatal("FILA_REQUIRE_BROWSER=1 but no chromium is installed (apt-get install chromium)")
	}
	t.Skip("SKIPPED: no chromium installed, the dashboard was not tested in a browser (apt-get install chromium; FILA_REQUIRE_BROWSER=1 makes this a failure)")
	return ""
}

var devtoolsURL = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// browser starts headless chromium and returns a DevTools client on its
// page; the process is killed when the test ends.
func browser(t *testing.T) *cdp {
	t.Helper()
	bin := chromiumPath(t)
	// Not t.TempDir: chromium's helper processes may still write to the
	// profile for a moment after the kill, which TempDir's check reports.
	profile, err := os.MkdirTemp("", "fila-dashboard-chromium-")
	require.NoError(t, err)
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--user-data-dir="+profile, "--window-size=1280,900", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, to stop its helpers with it
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group of the chromium started above
		_ = cmd.Wait()
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("could not remove chromium's profile %s", profile)
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := devtoolsURL.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	var wsBrowser string
	select {
	case wsBrowser = <-found:
	case <-time.After(60 * time.Second):
		t.Fatal("chromium did not print its DevTools address in 60s")
	}
	// The page targets are listed over HTTP next to the browser socket.
	host := strings.TrimPrefix(wsBrowser, "ws://")
	host = host[:strings.Index(host, "/")]
	var targets []struct {
		Type string `json:"type"`
		WS   string `json:"webSocketDebuggerUrl"`
	}
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + host + "/json/list")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&targets) == nil && len(targets) > 0
	}, 30*time.Second, 100*time.Millisecond)
	for _, tg := range targets {
		if tg.Type == "page" {
			c, err := dialCDP(tg.WS)
			require.NoError(t, err)
			t.Cleanup(c.close)
			require.NoError(t, c.call("Page.enable", nil, nil))
			require.NoError(t, c.call("Runtime.enable", nil, nil))
			return c
		}
	}
	t.Fatal("chromium has no page target")
	return nil
}

// open navigates and waits for the load event.
func open(t *testing.T, c *cdp, url string) {
	t.Helper()
	c.drainEvents()
	require.NoError(t, c.call("Page.navigate", map[string]any{"url": url}, nil))
	require.NoError(t, c.waitEvent("Page.loadEventFired", 30*time.Second))
}

// text returns the text of the first element matching a CSS selector.
func text(t *testing.T, c *cdp, selector string) string {
	t.Helper()
	var s string
	require.NoError(t, c.evaluate(fmt.Sprintf(`(document.querySelector(%q) || {textContent: "(missing)"}).textContent.trim()`, selector), &s))
	return s
}

// click scrolls the first element matching a CSS selector into view,
// clicks the middle of it with a real mouse press and release, and waits
// for the page it loads.
func click(t *testing.T, c *cdp, selector string) {
	t.Helper()
	var box struct{ X, Y float64 }
	require.NoError(t, c.evaluate(fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.scrollIntoView({block: "center"}); const r = el.getBoundingClientRect(); return {X: r.x + r.width/2, Y: r.y + r.height/2}; })()`, selector), &box))
	c.drainEvents()
	for _, typ := range []string{"mousePressed", "mouseReleased"} {
		require.NoError(t, c.call("Input.dispatchMouseEvent", map[string]any{"type": typ, "x": box.X, "y": box.Y, "button": "left", "clickCount": 1}, nil))
	}
	require.NoError(t, c.waitEvent("Page.loadEventFired", 30*time.Second))
}

// screenshot saves a full-page PNG at width px wide.
func screenshot(t *testing.T, c *cdp, dir, name string, width int) {
	t.Helper()
	var h float64
	require.NoError(t, c.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 500}, nil))
	require.NoError(t, c.evaluate(`document.documentElement.scrollHeight`, &h))
	var shot struct {
		Data string `json:"data"`
	}
	require.NoError(t, c.call("Page.captureScreenshot", map[string]any{
		"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": width, "height": h, "scale": 1},
	}, &shot))
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	require.NoError(t, err)
	require.True(t, len(png) > 1000 && string(png[1:4]) == "PNG", "not a PNG")
	path := filepath.Join(dir, name+".png")
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
}

// a11y returns the page's basic accessibility faults: form controls
// without a label, unnamed buttons and charts, no lang or no h1, a page
// wider than the window, text below WCAG AA contrast.
const a11y = `(() => {
  const faults = [];
  if (!document.documentElement.lang) faults.push("html has no lang");
  if (!document.querySelector("h1")) faults.push("no h1");
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    if (!(el.labels && el.labels.length) && !el.getAttribute("aria-label")) faults.push("unlabelled " + el.outerHTML);
  }
  for (const el of document.querySelectorAll("button")) {
    if (!el.textContent.trim() && !el.getAttribute("aria-label")) faults.push("unnamed button");
  }
  for (const el of document.querySelectorAll("svg[role=img]")) {
    if (!el.querySelector("title")) faults.push("svg without title");
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) faults.push("wider than the window: " + document.documentElement.scrollWidth);
  // WCAG contrast of every element holding text: 4.5:1, 3:1 for large text.
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest("svg") || !el.getClientRects().length) continue;
    const st = getComputedStyle(el);
    const l1 = lum(rgb(st.color).slice(0, 3)), l2 = lum(background(el));
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const large = parseFloat(st.fontSize) >= 24 || (parseFloat(st.fontSize) >= 18.66 && Number(st.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) faults.push("contrast " + ratio.toFixed(2) + " of " + el.tagName + " " + el.textContent.trim().slice(0, 30));
  }
  return faults;
})()`

func TestBrowser(t *testing.T) {
	c := browser(t)
	out := os.Getenv("FILA_BROWSER_OUT")
	if out == "" {
		out = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(out, 0o755))

	// An hour of traffic for the chart, then jobs in every state.
	var clockMu sync.Mutex
	var back time.Duration // how far the backend's clock is behind now
	be := memory.New(memory.Options{Now: func() time.Time {
		clockMu.Lock()
		defer clockMu.Unlock()
		return time.Now().Add(-back)
	}})
	for m := 59; m >= 1; m-- {
		clockMu.Lock()
		back = time.Duration(m) * time.Minute
		clockMu.Unlock()
		traffic(t, be, "outbound", 20+(m*7)%15, (m*3)%5)
		traffic(t, be, "inbound", 8+(m*5)%9, 0)
	}
	clockMu.Lock()
	back = 0
	clockMu.Unlock()
	s := seed(t, be)
	h, err := New(s.queues, Options{BasePath: "/admin/queues/", Title: "fila", Interval: 200 * time.Millisecond})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	base := srv.URL + "/admin/queues/"

	checkA11y := func(t *testing.T, width int) {
		t.Helper()
		require.NoError(t, c.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 500}, nil))
		var faults []string
		require.NoError(t, c.evaluate(a11y, &faults))
		require.Empty(t, faults, "at %dpx", width)
	}

	t.Run("overview shows the counts and updates them live", func(t *testing.T) {
		open(t, c, base)
		require.Equal(t, "1", text(t, c, `[data-count="outbound"][data-state="failed"]`))
		require.Equal(t, "paused", text(t, c, `[data-paused="inbound"]`))
		checkA11y(t, 360)
		checkA11y(t, 1280)
		// A job added now shows without a reload.
		_, err := s.queues[1].Add(context.Background(), "webhook", []byte(`{}`), nil)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			return text(t, c, `[data-count="inbound"][data-state="paused"]`) == "2"
		}, 30*time.Second, 100*time.Millisecond, "the count did not update without a reload")
		var updated string
		require.NoError(t, c.evaluate(`document.body.getAttribute("data-updated") || ""`, &updated))
		require.NotEmpty(t, updated)
		screenshot(t, c, out, "overview", 1280)
		screenshot(t, c, out, "overview-360", 360)
	})
	t.Run("queue page lists the failed job, escaped", func(t *testing.T) {
		open(t, c, base+"queues/outbound?state=failed")
		require.Equal(t, xss, text(t, c, "tbody td:nth-child(2)"), "the name renders as text")
		var scripts int
		require.NoError(t, c.evaluate(`document.querySelectorAll("main script, main img").length`, &scripts))
		require.Zero(t, scripts, "a payload became an element")
		checkA11y(t, 360)
		checkA11y(t, 1280)
		screenshot(t, c, out, "queue", 1280)
	})
	t.Run("job page: clicking retry moves the failed job to waiting", func(t *testing.T) {
		id := s.ids["failed"]
		open(t, c, base+"queues/outbound/jobs/"+id)
		require.Equal(t, "failed", text(t, c, "#job-state"))
		require.Equal(t, "error "+xss, text(t, c, "#failed-reason"))
		checkA11y(t, 360)
		checkA11y(t, 1280)
		screenshot(t, c, out, "job", 1280)

		click(t, c, "#action-retry")
		require.Equal(t, "waiting", text(t, c, "#job-state"))
		require.Equal(t, "Job retried.", text(t, c, ".flash"))
		j, err := s.queues[0].GetJob(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, fila.StateWaiting, j.State)
	})
	t.Run("groups page: pausing a group takes a click and a confirmation", func(t *testing.T) {
		q := s.queues[0]
		addGroups(t, q)
		open(t, c, base+"queues/outbound")
		click(t, c, "#groups-link")
		require.Equal(t, "running", text(t, c, `#groups + .table-wrap tbody tr:first-child td:nth-child(5)`))
		checkA11y(t, 360)
		checkA11y(t, 1280)
		click(t, c, `button[aria-label="Pause group alice"]`)
		require.Contains(t, text(t, c, ".confirm-text"), `Pause group "alice" of "outbound"?`)
		require.False(t, groupCounts(t, q, "alice").Paused, "nothing happens before the confirmation")
		click(t, c, "#confirm")
		require.Equal(t, "Group paused.", text(t, c, ".flash"))
		require.Equal(t, "paused", text(t, c, `#groups + .table-wrap tbody tr:first-child td:nth-child(5)`))
		require.True(t, groupCounts(t, q, "alice").Paused)
		screenshot(t, c, out, "groups", 1280)

		open(t, c, base+"queues/outbound/groups/alice")
		require.Equal(t, "paused", text(t, c, "#group-switch"))
		checkA11y(t, 360)
		checkA11y(t, 1280)
	})
}

// traffic completes and fails jobs now (by the backend's clock), removing
// them as they finish, so only the per-minute metrics remain.
func traffic(t *testing.T, be backend.Backend, queue string, completed, failed int) {
	t.Helper()
	ctx := context.Background()
	q := fila.NewQueue(be, queue)
	for i := range completed + failed {
		_, err := q.Add(ctx, "send", []byte(`{}`), nil)
		require.NoError(t, err)
		res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: queue, Token: "traffic", LockDuration: time.Minute})
		require.NoError(t, err)
		require.NotNil(t, res.Job)
		if i < completed {
			_, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: queue, ID: res.Job.ID, Token: "traffic", Retention: backend.Retention{Remove: true}})
		} else {
			_, err = be.JobFail(ctx, &backend.JobFailParams{Queue: queue, ID: res.Job.ID, Token: "traffic", Reason: "traffic", Retention: backend.Retention{Remove: true}})
		}
		require.NoError(t, err)
	}
}
