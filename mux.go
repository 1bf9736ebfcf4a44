package fila

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// ErrUnknownJobName matches the error a Mux gives a job whose name has no
// route (an *UnknownJobNameError). The error is Unrecoverable: the job
// fails at once, without retry, and the worker logs the failure.
var ErrUnknownJobName = errors.New("fila: no handler for job name")

// UnknownJobNameError is the failure of a job that a Mux has no route for.
// It matches ErrUnknownJobName with errors.Is.
type UnknownJobNameError struct {
	Name  string   // the job's name
	Known []string // the names the Mux routes, sorted
}

func (e *UnknownJobNameError) Error() string {
	return fmt.Sprintf("fila: no handler for job name %q (known: %q)", e.Name, e.Known)
}

// Is makes errors.Is(err, ErrUnknownJobName) true.
func (e *UnknownJobNameError) Is(target error) bool { return target == ErrUnknownJobName }

// Mux routes the jobs of one queue to a handler by job name, so one worker
// serves several kinds of job, the way http.ServeMux routes requests by
// path. Register routes with Handle (or HandleJSON for a typed handler)
// before the worker runs, then pass mux.Process as the worker's Processor:
//
//	mux := fila.NewMux()
//	mux.Handle("resize", resize)
//	fila.HandleJSON(mux, "notify", func(ctx context.Context, job *fila.Job, n Notice) (any, error) { ... })
//	w, err := fila.NewWorker(be, "media", mux.Process, fila.WorkerOptions{})
//
// Middleware given to Use wraps every route; middleware given to Handle
// wraps that route only, inside the Use middleware. A job whose name has
// no route fails at once with an *UnknownJobNameError (Unrecoverable).
// A Mux is safe for concurrent use.
type Mux struct {
	mu     sync.RWMutex
	routes map[string]Processor // each already wrapped in its own middleware
	mw     []Middleware         // Use: wraps every route
	chains map[string]Processor // routes wrapped in mw, built on first use
}

// NewMux returns an empty Mux.
func NewMux() *Mux {
	return &Mux{routes: map[string]Processor{}}
}

// Handle routes jobs named name to p, wrapped in mw (the first is the
// outermost). It panics when name is empty, p is nil, or name already has
// a route: these are programming errors, found when the program starts.
func (m *Mux) Handle(name string, p Processor, mw ...Middleware) {
	if name == "" {
		panic("fila: Mux.Handle: job name is empty")
	}
	if p == nil {
		panic(fmt.Sprintf("fila: Mux.Handle %q: processor is nil", name))
	}
	for i := len(mw) - 1; i >= 0; i-- {
		p = mw[i](p)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.routes[name]; dup {
		panic(fmt.Sprintf("fila: Mux.Handle: job name %q already has a route", name))
	}
	m.routes[name] = p
	m.chains = nil
}

// HandleJSON routes jobs named name to a typed handler, built with
// JSONProcessor: the payload is decoded as T and the result R is stored as
// the job's JSON return value.
func HandleJSON[T, R any](m *Mux, name string, h func(ctx context.Context, job *Job, payload T) (R, error), mw ...Middleware) {
	if h == nil {
		panic(fmt.Sprintf("fila: HandleJSON %q: handler is nil", name))
	}
	m.Handle(name, JSONProcessor(h), mw...)
}

// Use adds middleware that wraps every route, registered before or after
// it; the first added is the outermost. It does not wrap the failure of an
// unknown name (wrap mux.Process itself, or use WorkerOptions.Middleware,
// to see every job).
func (m *Mux) Use(mw ...Middleware) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mw = append(m.mw, mw...)
	m.chains = nil
}

// Names returns the job names the Mux routes, sorted.
func (m *Mux) Names() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.namesLocked()
}

func (m *Mux) namesLocked() []string {
	names := make([]string, 0, len(m.routes))
	for n := range m.routes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Process is the Mux as a Processor: it runs the route of job.Name, or
// fails the job with an Unrecoverable *UnknownJobNameError.
func (m *Mux) Process(ctx context.Context, job *Job) (any, error) {
	m.mu.RLock()
	built := m.chains != nil
	p, ok := m.chains[job.Name]
	m.mu.RUnlock()
	if !built {
		p, ok = m.build(job.Name)
	}
	if !ok {
		m.mu.RLock()
		known := m.namesLocked()
		m.mu.RUnlock()
		return nil, Unrecoverable(&UnknownJobNameError{Name: job.Name, Known: known})
	}
	return p(ctx, job)
}

// build wraps every route in the Use middleware once, and returns the route
// of name.
func (m *Mux) build(name string) (Processor, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.chains == nil {
		chains := make(map[string]Processor, len(m.routes))
		for n, p := range m.routes {
			for i := len(m.mw) - 1; i >= 0; i-- {
				p = m.mw[i](p)
			}
			chains[n] = p
		}
		m.chains = chains
	}
	p, ok := m.chains[name]
	return p, ok
}
