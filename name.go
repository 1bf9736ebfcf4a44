package fila

import (
	"os"
	"strconv"
	"sync"
)

// workerNames hands out worker names unique among the running workers of
// a queue in this process, so two workers never report the same metric
// series. It is process-wide on purpose: the series it keeps apart are
// too (one Prometheus registry, one host).
var workerNames = &nameRegistry{taken: map[string]bool{}}

type nameRegistry struct {
	mu    sync.Mutex
	taken map[string]bool // queue + "\x00" + name
}

// take returns base (the host name when empty) for the first running
// worker of queue with that base, and base-2, base-3, ... (the lowest
// free) for the next ones.
func (r *nameRegistry) take(queue, base string) string {
	if base == "" {
		base = hostName()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	name := base
	for n := 2; r.taken[queue+"\x00"+name]; n++ {
		name = base + "-" + strconv.Itoa(n)
	}
	r.taken[queue+"\x00"+name] = true
	return name
}

// free makes a stopped worker's name available again.
func (r *nameRegistry) free(queue, name string) {
	r.mu.Lock()
	delete(r.taken, queue+"\x00"+name)
	r.mu.Unlock()
}

// hostName is the default worker name; "fila" where the host has none.
func hostName() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "fila"
}
