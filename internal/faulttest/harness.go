package faulttest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila"
	redisbackend "github.com/fila-go/fila/backend/redis"
	"github.com/fila-go/fila/internal/redistest"
)

// Soak reports whether the full-size runs were asked for (FILA_SOAK=1);
// otherwise scenarios run at the reduced size CI uses.
func Soak() bool { return os.Getenv("FILA_SOAK") == "1" }

// Size returns full under FILA_SOAK=1 and reduced otherwise.
func Size[T any](reduced, full T) T {
	if Soak() {
		return full
	}
	return reduced
}

// BuildWorker builds the faultworker helper into a temporary directory of
// the test and returns its path. FILA_FAULT_RACE=1 builds it with -race.
func BuildWorker(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "faultworker")
	args := []string{"build", "-o", bin}
	if os.Getenv("FILA_FAULT_RACE") == "1" {
		args = append(args, "-race")
	}
	args = append(args, "github.com/fila-go/fila/internal/faulttest/cmd/faultworker")
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("faulttest: go build faultworker: %v\n%s", err, out)
	}
	return bin
}

func cgo() string {
	if os.Getenv("FILA_FAULT_RACE") == "1" {
		return "1"
	}
	return "0"
}

// skewedTimeNow is the body of time.Now in the skewed build: the wall clock
// moves by FILA_FAULT_CLOCK_SKEW_SECONDS, the monotonic clock (durations,
// timers) does not, as on a machine whose clock is set wrong.
const skewedTimeNow = `	sec, nsec, mono := runtimeNow()
	sec += faultClockSkew
`

// skewedTimeVar reads the skew once, at package init, without strconv.
const skewedTimeVar = `
var faultClockSkew = func() int64 {
	v, _ := syscall.Getenv("FILA_FAULT_CLOCK_SKEW_SECONDS")
	neg := len(v) > 0 && v[0] == '-'
	if neg || len(v) > 0 && v[0] == '+' {
		v = v[1:]
	}
	var n int64
	for i := 0; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		n = n*10 + int64(v[i]-'0')
	}
	if neg {
		n = -n
	}
	return n
}()
`

// BuildSkewedWorker builds faultworker against a copy of the standard
// library's time package whose time.Now is offset by the environment
// variable FILA_FAULT_CLOCK_SKEW_SECONDS (go build -overlay). Go reads the
// clock through the vDSO, not libc, so libfaketime cannot skew a Go process;
// this skews every wall-clock read in it: fila's, go-redis', the helper's.
func BuildSkewedWorker(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("faulttest: go env GOROOT: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "src", "time")
	dir := t.TempDir()
	timeGo, err := os.ReadFile(filepath.Join(src, "time.go"))
	if err != nil {
		t.Fatalf("faulttest: %v", err)
	}
	sysGo, err := os.ReadFile(filepath.Join(src, "sys_unix.go"))
	if err != nil {
		t.Fatalf("faulttest: %v", err)
	}
	const nowLine = "\tsec, nsec, mono := runtimeNow()\n"
	if strings.Count(string(timeGo), nowLine) != 1 || !strings.Contains(string(sysGo), "\"syscall\"") {
		t.Skip("faulttest: this Go's time package does not have the expected shape; cannot build a skewed worker")
	}
	repl := map[string]string{
		filepath.Join(src, "time.go"):     strings.Replace(string(timeGo), nowLine, skewedTimeNow, 1),
		filepath.Join(src, "sys_unix.go"): string(sysGo) + skewedTimeVar,
	}
	overlay := `{"Replace":{`
	i := 0
	for orig, content := range repl {
		p := filepath.Join(dir, filepath.Base(orig))
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatalf("faulttest: %v", err)
		}
		if i > 0 {
			overlay += ","
		}
		overlay += strconv.Quote(orig) + ":" + strconv.Quote(p)
		i++
	}
	overlay += "}}"
	ov := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ov, []byte(overlay), 0o644); err != nil {
		t.Fatalf("faulttest: %v", err)
	}
	bin := filepath.Join(dir, "faultworker-skewed")
	cmd := exec.Command("go", "build", "-overlay", ov, "-o", bin, "github.com/fila-go/fila/internal/faulttest/cmd/faultworker")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("faulttest: go build skewed faultworker: %v\n%s", err, b)
	}
	return bin
}

// Env is one fault-test setup: a private redis-server, a direct client and
// backend for the test's own adds and checks, and worker processes.
type Env struct {
	T     testing.TB
	Bin   string
	Dir   string
	Redis *redistest.Server
	Admin *redis.Client         // straight to the server
	BE    *redisbackend.Backend // over Admin
	Queue *fila.Queue
	Name  string // the queue's name
	// Others are more queues of the scenario (AddQueue): Counts and
	// Account count their jobs with the queue's.
	Others []*fila.Queue

	mu    sync.Mutex
	procs []*Proc
}

// NewEnv starts a redis-server (with extra arguments) and builds the helper.
func NewEnv(t testing.TB, queue string, redisArgs ...string) *Env {
	t.Helper()
	srv := redistest.Start(t, redisArgs...)
	e := &Env{T: t, Bin: BuildWorker(t), Dir: t.TempDir(), Redis: srv, Name: queue}
	e.Admin = redis.NewClient(&redis.Options{Addr: srv.Addr, Protocol: 2})
	e.BE = redisbackend.New(e.Admin)
	// Every finished job is kept: the tally lists them all to prove none
	// was lost or run twice (the default keeps only the newest).
	e.Queue = e.newQueue(queue)
	t.Cleanup(func() {
		e.stopAll()
		e.BE.Close()
		e.Admin.Close()
	})
	return e
}

// Every finished job is kept: the tally lists them all to prove none was
// lost or run twice (the default keeps only the newest).
func (e *Env) newQueue(name string) *fila.Queue {
	return fila.NewQueue(e.BE, name, fila.QueueOptions{Defaults: fila.JobOptions{
		RemoveOnComplete: fila.KeepAll, RemoveOnFail: fila.KeepAll}})
}

// AddQueue adds a queue named name to the scenario's (Others). Its jobs'
// IDs must differ from the other queues': the records name jobs by ID.
func (e *Env) AddQueue(name string) *fila.Queue {
	q := e.newQueue(name)
	e.Others = append(e.Others, q)
	return q
}

// Proc is one faultworker process.
type Proc struct {
	Name    string
	Records string // the records file
	Log     string // stdout and stderr
	Args    []string

	cmd     *exec.Cmd
	done    chan struct{}
	exitErr error

	mu      sync.Mutex
	killed  bool // ended by SIGKILL
	stopped bool // SIGSTOPped at some point
}

// StartWorker runs a faultworker named name against addr, with extra flags.
func (e *Env) StartWorker(name, addr string, flags ...string) *Proc {
	e.T.Helper()
	return e.StartProc(e.Bin, nil, name, addr, flags...)
}

// StartProc is StartWorker with another helper binary and extra
// environment variables.
func (e *Env) StartProc(bin string, env []string, name, addr string, flags ...string) *Proc {
	e.T.Helper()
	p := &Proc{
		Name:    name,
		Records: filepath.Join(e.Dir, name+".records"),
		Log:     filepath.Join(e.Dir, name+".log"),
	}
	p.Args = append([]string{"-addr", addr, "-queue", e.Name, "-records", p.Records, "-instance", name}, flags...)
	logf, err := os.Create(p.Log)
	if err != nil {
		e.T.Fatalf("faulttest: %v", err)
	}
	p.cmd = exec.Command(bin, p.Args...)
	p.cmd.Env = append(os.Environ(), env...)
	// If the test process dies without its cleanups (a -timeout panic, a
	// crash), the kernel kills the worker too instead of leaving it running.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		e.T.Fatalf("faulttest: start %s: %v", name, err)
	}
	p.done = make(chan struct{})
	go func() {
		p.exitErr = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	e.mu.Lock()
	e.procs = append(e.procs, p)
	e.mu.Unlock()
	p.waitReady(e.T)
	return p
}

func (p *Proc) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(p.Records); err == nil && strings.Contains(string(b), "READY") {
			return
		}
		select {
		case <-p.done:
			b, _ := os.ReadFile(p.Log)
			t.Fatalf("faulttest: %s exited at start: %v\n%s", p.Name, p.exitErr, b)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("faulttest: %s did not start", p.Name)
}

// Running reports whether the process has not exited.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Kill ends the process with SIGKILL and waits for it.
func (p *Proc) Kill() {
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Killed reports whether Kill ended the process.
func (p *Proc) Killed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killed
}

// Interrupted reports whether the process was SIGKILLed or SIGSTOPped: its
// jobs may have run to the end without their completion being recorded.
func (p *Proc) Interrupted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killed || p.stopped
}

// Stop freezes the process (SIGSTOP); Cont resumes it.
func (p *Proc) Stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	_ = p.cmd.Process.Signal(syscall.SIGSTOP)
}

// Cont resumes a stopped process.
func (p *Proc) Cont() { _ = p.cmd.Process.Signal(syscall.SIGCONT) }

// Term sends SIGTERM and waits up to timeout for a clean exit; it returns
// how long the exit took and the exit error.
func (p *Proc) Term(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return time.Since(start), p.exitErr
	case <-time.After(timeout):
		p.Kill()
		return time.Since(start), fmt.Errorf("%s did not exit within %s of SIGTERM", p.Name, timeout)
	}
}

// Fatalf fails the test after dumping what the workers were doing: each
// running process gets SIGQUIT (the Go runtime prints every goroutine to
// its log), and the tail of every log is printed with the queue's counts.
func (e *Env) Fatalf(format string, args ...any) {
	e.T.Helper()
	if c, err := e.Queue.Counts(context.Background()); err == nil {
		e.T.Logf("counts: %+v", *c)
	}
	for _, p := range e.Procs() {
		if p.Running() {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			_ = p.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
		}
		b, _ := os.ReadFile(p.Log)
		if len(b) > 64<<10 {
			b = b[len(b)-64<<10:]
		}
		e.T.Logf("---- %s (killed %v) log tail:\n%s", p.Name, p.Killed(), b)
	}
	e.T.Fatalf(format, args...)
}

// Until polls cond every 50ms until it holds, or fails the test with
// diagnostics after timeout.
func (e *Env) Until(what string, timeout time.Duration, cond func() bool) {
	e.T.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.Fatalf("faulttest: %s: not within %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopAll kills every process still running (the test's cleanup).
func (e *Env) stopAll() {
	e.mu.Lock()
	procs := slices.Clone(e.procs)
	e.mu.Unlock()
	for _, p := range procs {
		if p.Running() {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	}
}

// Procs returns every process started so far.
func (e *Env) Procs() []*Proc {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.procs)
}

// AddJobs adds n jobs named name whose data is data(i), in bulk, and
// returns their IDs in order.
func (e *Env) AddJobs(n int, name string, data func(i int) string, opts *fila.JobOptions) []string {
	e.T.Helper()
	ctx := context.Background()
	ids := make([]string, 0, n)
	for start := 0; start < n; start += 1000 {
		chunk := make([]fila.BulkJob, min(1000, n-start))
		for k := range chunk {
			chunk[k] = fila.BulkJob{Name: name, Data: []byte(data(start + k)), Options: opts}
		}
		jobs, err := e.Queue.AddBulk(ctx, chunk)
		if err != nil {
			e.T.Fatalf("faulttest: add jobs: %v", err)
		}
		for _, j := range jobs {
			ids = append(ids, j.ID)
		}
	}
	return ids
}

// Counts returns the counts of the queue and the Others, summed, retrying
// while Redis is away.
func (e *Env) Counts() *fila.Counts {
	e.T.Helper()
	sum := &fila.Counts{}
	for _, q := range append([]*fila.Queue{e.Queue}, e.Others...) {
		c := e.counts(q)
		sum.Waiting += c.Waiting
		sum.Prioritized += c.Prioritized
		sum.Paused += c.Paused
		sum.Delayed += c.Delayed
		sum.Active += c.Active
		sum.Completed += c.Completed
		sum.Failed += c.Failed
		sum.WaitingChildren += c.WaitingChildren
	}
	return sum
}

func (e *Env) counts(q *fila.Queue) *fila.Counts {
	e.T.Helper()
	var last error
	for range 100 {
		c, err := q.Counts(context.Background())
		if err == nil {
			return c
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	e.T.Fatalf("faulttest: counts of %s: %v", q.Name(), last)
	return nil
}

// WaitFinished waits until n jobs are completed or failed and none is
// waiting, delayed or active, or fails the test after timeout.
func (e *Env) WaitFinished(n int, timeout time.Duration) *fila.Counts {
	e.T.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c := e.Counts()
		if int(c.Completed+c.Failed) >= n && c.Active == 0 && c.Waiting == 0 && c.Delayed == 0 && c.Prioritized == 0 && c.Paused == 0 {
			return c
		}
		if time.Now().After(deadline) {
			e.Fatalf("faulttest: jobs did not finish within %s: %+v", timeout, *c)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Progress returns how many handler successes the records show so far.
func (e *Env) Progress() int {
	n := 0
	for _, p := range e.Procs() {
		n += countPrefix(p.Records, "E ")
	}
	return n
}

func countPrefix(path, prefix string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			n++
		}
	}
	return n
}

// Records is what one process recorded.
type Records struct {
	Proc        *Proc
	Starts      map[string]int          // S: handler starts per job
	Effects     map[string]int          // E: handler successes per job
	EffectTimes map[string][]int64      // E: this process' wall clock (Unix ms) at each success
	ParentReads map[string][]ParentRead // P: what a flow parent's handler read of its children
	Completes   map[string]int          // C: completions the backend accepted
	Fails       map[string][]string     // F: failed attempts the backend accepted, with reasons
	Interrupts  map[string][]string     // X: handlers ended by their context, with the cause
	ClockArgs   []string                // T: arguments that looked like the wall clock
	Checked     int64                   // N: commands the clock check looked at
	FirstStarts []string                // job IDs in the order of their first start here
	StartTimes  map[string][]int64      // S: this process' wall clock (Unix ms) at each start
	StartMade   map[string][]int        // S: AttemptsMade seen at each start
	ReadyAt     int64                   // READY: the process' wall clock (Unix ms) when it started
}

// ParentRead is one P record: a flow parent's handler read its children.
type ParentRead struct {
	Pending, Values, Failed int
	At                      int64 // the process' wall clock, Unix ms
}

// ReadRecords parses a process' records file.
func ReadRecords(p *Proc) *Records {
	r := &Records{Proc: p, Starts: map[string]int{}, Effects: map[string]int{}, Completes: map[string]int{},
		Fails: map[string][]string{}, Interrupts: map[string][]string{}, Checked: -1,
		StartTimes: map[string][]int64{}, StartMade: map[string][]int{}, EffectTimes: map[string][]int64{}, ParentReads: map[string][]ParentRead{}}
	f, err := os.Open(p.Records)
	if err != nil {
		return r
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		id, more, _ := strings.Cut(rest, " ")
		switch kind {
		case "S":
			if r.Starts[id] == 0 {
				r.FirstStarts = append(r.FirstStarts, id)
			}
			r.Starts[id]++
			if f := strings.Fields(more); len(f) == 3 {
				made, _ := strconv.Atoi(f[0])
				at, _ := strconv.ParseInt(f[2], 10, 64)
				r.StartMade[id] = append(r.StartMade[id], made)
				r.StartTimes[id] = append(r.StartTimes[id], at)
			}
		case "E":
			r.Effects[id]++
			if at, err := strconv.ParseInt(more, 10, 64); err == nil {
				r.EffectTimes[id] = append(r.EffectTimes[id], at)
			}
		case "P":
			if f := strings.Fields(more); len(f) == 4 {
				var n [4]int64
				for i := range f {
					n[i], _ = strconv.ParseInt(f[i], 10, 64)
				}
				r.ParentReads[id] = append(r.ParentReads[id], ParentRead{Pending: int(n[0]), Values: int(n[1]), Failed: int(n[2]), At: n[3]})
			}
		case "C":
			r.Completes[id]++
		case "F":
			r.Fails[id] = append(r.Fails[id], more)
		case "X":
			r.Interrupts[id] = append(r.Interrupts[id], more)
		case "T":
			r.ClockArgs = append(r.ClockArgs, rest)
		case "READY":
			r.ReadyAt, _ = strconv.ParseInt(more, 10, 64)
		case "N":
			r.Checked, _ = strconv.ParseInt(id, 10, 64)
		}
	}
	return r
}

// AllRecords reads the records of every process of the env.
func (e *Env) AllRecords() []*Records {
	var out []*Records
	for _, p := range e.Procs() {
		out = append(out, ReadRecords(p))
	}
	return out
}

// Tally is the accounting of one scenario run.
type Tally struct {
	Scenario   string
	Added      int // jobs added
	Completed  int // jobs in completed
	Failed     int // jobs in failed
	Runs       int // handler starts, all processes
	Duplicates int // jobs whose handler succeeded more than once
	Lost       int // added jobs neither completed nor failed (must be 0)
	Stuck      int // jobs left in active, waiting or delayed
	Faults     string
	Duration   time.Duration
}

// Account checks that every job of ids is completed, or failed when
// wantFailed says so; that none is missing or stuck; and that a job's
// handler succeeded more than once only when a process that ran it to the
// end was interrupted (SIGKILL or SIGSTOP) before its completion was
// recorded, at most once per such interruption. It fails the test on any
// violation and returns the tally.
func (e *Env) Account(scenario, faults string, ids []string, wantFailed func(id string) bool, took time.Duration) Tally {
	e.T.Helper()
	ctx := context.Background()
	c := e.Counts()
	completed := e.listIDs(ctx, fila.StateCompleted)
	failed := e.listIDs(ctx, fila.StateFailed)
	recs := e.AllRecords()
	tl := Tally{Scenario: scenario, Added: len(ids), Completed: int(c.Completed), Failed: int(c.Failed), Faults: faults, Duration: took}
	tl.Stuck = int(c.Active + c.Waiting + c.Delayed + c.Prioritized + c.Paused)
	var problems []string
	for _, id := range ids {
		want := "completed"
		if wantFailed != nil && wantFailed(id) {
			want = "failed"
		}
		_, isC := completed[id]
		_, isF := failed[id]
		switch {
		case !isC && !isF:
			tl.Lost++
			problems = append(problems, fmt.Sprintf("job %s is neither completed nor failed", id))
		case want == "completed" && !isC:
			problems = append(problems, fmt.Sprintf("job %s failed, want completed", id))
		case want == "failed" && !isF:
			problems = append(problems, fmt.Sprintf("job %s completed, want failed", id))
		}
		effects, allowed, accepted := 0, 0, 0
		for _, r := range recs {
			n := r.Effects[id]
			effects += n
			accepted += r.Completes[id]
			if n > r.Completes[id] && r.Proc.Interrupted() {
				allowed += n - r.Completes[id]
			}
		}
		if effects > 1 {
			tl.Duplicates++
			if effects-1 > allowed {
				problems = append(problems, fmt.Sprintf("job %s succeeded %d times; only %d runs were on interrupted workers", id, effects, allowed))
			}
		}
		if accepted > 1 {
			problems = append(problems, fmt.Sprintf("job %s was completed %d times by the backend", id, accepted))
		}
	}
	for _, r := range recs {
		for id := range r.Starts {
			tl.Runs += r.Starts[id]
		}
	}
	if tl.Stuck != 0 {
		problems = append(problems, fmt.Sprintf("%d jobs stuck: %+v", tl.Stuck, *c))
	}
	if want := len(ids); tl.Completed+tl.Failed != want {
		problems = append(problems, fmt.Sprintf("completed %d + failed %d != added %d", tl.Completed, tl.Failed, want))
	}
	e.T.Logf("%s", tl.Row())
	WriteResult(e.T, tl)
	if len(problems) > 0 {
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("... and %d more", len(problems)-20))
		}
		e.T.Fatalf("faulttest: %s: accounting failed:\n%s", scenario, strings.Join(problems, "\n"))
	}
	return tl
}

// listIDs returns the IDs of the jobs in state st in the queue and the
// Others.
func (e *Env) listIDs(ctx context.Context, st fila.State) map[string]struct{} {
	e.T.Helper()
	out := map[string]struct{}{}
	for _, q := range append([]*fila.Queue{e.Queue}, e.Others...) {
		for off := 0; ; off += 1000 {
			jobs, err := q.Jobs(ctx, st, off, 1000)
			if err != nil {
				e.T.Fatalf("faulttest: list %s of %s: %v", st, q.Name(), err)
			}
			for _, j := range jobs {
				out[j.ID] = struct{}{}
			}
			if len(jobs) < 1000 {
				break
			}
		}
	}
	return out
}

// Row renders the tally as a Markdown table row.
func (tl Tally) Row() string {
	return fmt.Sprintf("| %s | %s | %d | %d | %d | %d | %d | %d | %d | %.1fs |", tl.Scenario, tl.Faults, tl.Added, tl.Completed,
		tl.Failed, tl.Runs, tl.Duplicates, tl.Lost, tl.Stuck, tl.Duration.Seconds())
}

// TableHeader is the header of the Markdown table Row belongs to.
const TableHeader = "| scenario | faults | added | completed | failed | handler runs | duplicates | lost | stuck | took |\n|---|---|---|---|---|---|---|---|---|---|"

var resultsMu sync.Mutex

// WriteResult appends the tally's row to the file named by
// FILA_FAULT_RESULTS, when set (the soak script collects the tables so).
func WriteResult(t testing.TB, tl Tally) {
	path := os.Getenv("FILA_FAULT_RESULTS")
	if path == "" {
		return
	}
	resultsMu.Lock()
	defer resultsMu.Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Logf("faulttest: results file: %v", err)
		return
	}
	defer f.Close()
	_, _ = fmt.Fprintln(f, tl.Row())
}

// WriteNote appends a free-form line to the FILA_FAULT_RESULTS file.
func WriteNote(t testing.TB, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	path := os.Getenv("FILA_FAULT_RESULTS")
	if path == "" {
		return
	}
	resultsMu.Lock()
	defer resultsMu.Unlock()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = fmt.Fprintln(f, line)
}

var usedMemoryRe = regexp.MustCompile(`used_memory:(\d+)`)

// UsedMemory reads INFO memory's used_memory of a server.
func UsedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	m := usedMemoryRe.FindStringSubmatch(info)
	if m == nil {
		return 0, fmt.Errorf("no used_memory in INFO")
	}
	return strconv.ParseInt(m[1], 10, 64)
}
