package faulttest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
