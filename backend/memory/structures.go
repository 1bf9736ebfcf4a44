package memory

import (
	"container/heap"
	"container/list"
	"time"

	"github.com/fila-go/fila/backend"
)

// entry is one stored job with the bookkeeping its containers need.
type entry struct {
	job       backend.Job
	seq       uint64 // insertion order, breaks ties in heaps
	token     string
	lockUntil time.Time
	cancelled string // the token whose lock JobCancel revoked (JobCancelled)
	logs      []string

	elem      *list.Element // position in wait (or its group's line), completed or failed
	heapIndex int           // position in prioritized or delayed

	grp  *group // set on a group's token (see groups.go), which is no job
	slot bool   // a grouped job holding one of its group's slots

	flow *flowLink // set on a flow's nodes (see flows.go)
}

// jobHeap orders entries by key, then by seq (FIFO among equals).
type jobHeap struct {
	items []*entry
	key   func(*entry) int64
}

func (h *jobHeap) Len() int { return len(h.items) }
func (h *jobHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	ka, kb := h.key(a), h.key(b)
	if ka != kb {
		return ka < kb
	}
	return a.seq < b.seq
}
func (h *jobHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].heapIndex = i
	h.items[j].heapIndex = j
}
func (h *jobHeap) Push(x any) {
	e := x.(*entry)
	e.heapIndex = len(h.items)
	h.items = append(h.items, e)
}
func (h *jobHeap) Pop() any {
	n := len(h.items) - 1
	e := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	e.heapIndex = -1
	return e
}

func (h *jobHeap) push(e *entry)   { heap.Push(h, e) }
func (h *jobHeap) remove(e *entry) { heap.Remove(h, e.heapIndex) }
func (h *jobHeap) peek() *entry {
	if len(h.items) == 0 {
		return nil
	}
	return h.items[0]
}
func (h *jobHeap) pop() *entry { return heap.Pop(h).(*entry) }

// sorted returns the entries in heap order without disturbing the heap.
func (h *jobHeap) sorted() []*entry {
	c := &jobHeap{items: append([]*entry(nil), h.items...), key: h.key}
	out := make([]*entry, 0, len(c.items))
	for c.Len() > 0 {
		out = append(out, heap.Pop(c).(*entry))
	}
	for i, e := range h.items { // heap.Pop on the copy rewrote the indexes
		e.heapIndex = i
	}
	return out
}

// dedupEntry remembers a dedup ID until it expires.
type dedupEntry struct {
	id      string
	jobID   string
	expires time.Time
}

// dedupHeap orders dedup entries by expiry so expired ones are swept cheaply.
type dedupHeap []*dedupEntry

func (h dedupHeap) Len() int           { return len(h) }
func (h dedupHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h dedupHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dedupHeap) Push(x any)        { *h = append(*h, x.(*dedupEntry)) }
func (h *dedupHeap) Pop() any {
	old := *h
	n := len(old) - 1
	e := old[n]
	old[n] = nil
	*h = old[:n]
	return e
}

// slidingLog is the rate limiter's record of recent claim times, oldest
// first. It holds at most the largest Max it was asked to enforce.
type slidingLog struct {
	times []time.Time
}

// take records a claim at now if fewer than l.Max claims happened in
// (now-l.Per, now]; otherwise it returns how long until one slot frees.
func (s *slidingLog) take(l *backend.Limit, now time.Time) time.Duration {
	cut := now.Add(-l.Per)
	i := 0
	for i < len(s.times) && !s.times[i].After(cut) {
		i++
	}
	s.times = s.times[i:]
	if len(s.times) >= l.Max {
		oldest := s.times[len(s.times)-l.Max]
		return oldest.Add(l.Per).Sub(now)
	}
	s.times = append(s.times, now)
	return 0
}

// minuteCounts is a ring of per-minute finished counts.
type minuteCounts struct {
	minute    []int64 // Unix minute the slot holds
	completed []int64
	failed    []int64
}

func newMinuteCounts(n int) *minuteCounts {
	return &minuteCounts{minute: make([]int64, n), completed: make([]int64, n), failed: make([]int64, n)}
}

func (m *minuteCounts) add(now time.Time, failed bool) {
	mn := now.Unix() / 60
	i := int(mn % int64(len(m.minute)))
	if m.minute[i] != mn {
		m.minute[i], m.completed[i], m.failed[i] = mn, 0, 0
	}
	if failed {
		m.failed[i]++
	} else {
		m.completed[i]++
	}
}

func (m *minuteCounts) series(now time.Time, n int) (completed, failed []int64) {
	if n <= 0 || n > len(m.minute) {
		n = len(m.minute)
	}
	completed, failed = make([]int64, n), make([]int64, n)
	cur := now.Unix() / 60
	for k := 0; k < n; k++ {
		mn := cur - int64(k)
		size := int64(len(m.minute))
		i := int(((mn % size) + size) % size)
		if m.minute[i] == mn {
			completed[k], failed[k] = m.completed[i], m.failed[i]
		}
	}
	return completed, failed
}

// eventRing keeps the newest events of a queue.
type eventRing struct {
	buf  []backend.Event
	seqs []uint64
	head int // index of the oldest
	n    int
	last uint64 // sequence of the newest event ever recorded
}

func newEventRing(size int) *eventRing {
	return &eventRing{buf: make([]backend.Event, size), seqs: make([]uint64, size)}
}

func (r *eventRing) add(ev backend.Event) {
	r.last++
	ev.ID = formatSeq(r.last)
	i := (r.head + r.n) % len(r.buf)
	if r.n == len(r.buf) {
		r.head = (r.head + 1) % len(r.buf)
	} else {
		r.n++
	}
	r.buf[i], r.seqs[i] = ev, r.last
}

// after returns up to count events with a sequence above seq.
func (r *eventRing) after(seq uint64, count int) []backend.Event {
	var out []backend.Event
	for k := 0; k < r.n && len(out) < count; k++ {
		i := (r.head + k) % len(r.buf)
		if r.seqs[i] > seq {
			out = append(out, r.buf[i])
		}
	}
	return out
}
