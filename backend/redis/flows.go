package redisbackend

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/fila-go/fila/backend"
)

var _ backend.Flows = (*Backend)(nil)

// FlowAdd implements backend.Flows: the whole tree in one call of
// lua/flow_add.lua, so it is stored whole or not at all. A tree in one
// queue touches only that queue's keys; one across queues, the keys of
// queues this backend links (FlowsSpanQueues, flowQueues).
func (b *Backend) FlowAdd(ctx context.Context, p *backend.FlowAddParams) ([]backend.JobAddResult, error) {
	if err := backend.CheckFlow(p.Queue, &p.Root); err != nil {
		return nil, err
	}
	if err := b.flowQueues(&p.Root); err != nil {
		return nil, err
	}
	var nodes []any
	if err := b.flowArgs(&nodes, &p.Root, 0); err != nil {
		return nil, err
	}
	return b.flowRun(ctx, p.Queue, "", "", nodes)
}

// FlowWaitChildren implements backend.Flows: the token check, the move of
// the job to waiting-children and the new children are one script call.
func (b *Backend) FlowWaitChildren(ctx context.Context, p *backend.FlowWaitChildrenParams) ([]backend.JobAddResult, error) {
	if len(p.Children) == 0 {
		return nil, fmt.Errorf("%w: no children", backend.ErrInvalidFlow)
	}
	root := backend.FlowNode{Queue: p.Queue, Children: p.Children}
	if err := backend.CheckFlow(p.Queue, &root); err != nil {
		return nil, err
	}
	if err := b.flowQueues(&root); err != nil {
		return nil, err
	}
	var nodes []any
	for i := range p.Children {
		if err := b.flowArgs(&nodes, &p.Children[i], 0); err != nil {
			return nil, err
		}
	}
	return b.flowRun(ctx, p.Queue, p.ID, p.Token, nodes)
}

// flowNodeArgs is the number of flow_add.lua values per node.
const flowNodeArgs = 10

// flowArgs appends f and its children, depth first, as flow_add.lua's
// node values; parent is the 1-based index of f's parent, 0 for none.
func (b *Backend) flowArgs(nodes *[]any, f *backend.FlowNode, parent int) error {
	it := &f.Job
	body, err := encodeBody(it.Name, it.Data, &it.Options)
	if err != nil {
		return fmt.Errorf("%w: job %q: %v", backend.ErrInvalidFlow, it.Name, err)
	}
	lifo := "0"
	if it.Options.LIFO {
		lifo = "1"
	}
	policy := "-"
	switch f.OnFailure {
	case backend.ChildIgnore:
		policy = "i"
	case backend.ChildRemove:
		policy = "r"
	case backend.ChildContinue:
		policy = "c"
	}
	*nodes = append(*nodes, it.ID, it.Options.Priority, lifo, it.Options.Group, ms(it.Options.Delay), parent, policy, body,
		f.Queue, b.queue(f.Queue).base())
	self := len(*nodes) / flowNodeArgs
	for i := range f.Children {
		if err := b.flowArgs(nodes, &f.Children[i], self); err != nil {
			return err
		}
	}
	return nil
}

// flowRun calls flow_add.lua and decodes its reply.
func (b *Backend) flowRun(ctx context.Context, queue, id, token string, nodes []any) ([]backend.JobAddResult, error) {
	q := b.queue(queue)
	args := append([]any{id, token, len(nodes) / flowNodeArgs, queue}, nodes...)
	v, err := b.run(ctx, b.s.flowAdd, q, args...)
	if err != nil {
		return nil, err
	}
	if arr, ok := v.([]any); ok && len(arr) == 2 {
		if c, ok := arr[0].(int64); ok {
			switch c {
			case -10:
				return nil, fmt.Errorf("%w: job ID %q exists", backend.ErrInvalidFlow, str(arr[1]))
			case -11:
				return nil, fmt.Errorf("%w: group %q is full", backend.ErrInvalidFlow, str(arr[1]))
			}
		}
	}
	if err := code(v, id); err != nil {
		return nil, err
	}
	arr, _ := v.([]any)
	out := make([]backend.JobAddResult, 0, len(arr))
	for _, e := range arr {
		r, _ := e.([]any)
		if len(r) != 3 {
			return nil, fmt.Errorf("redis: malformed flow reply %v", e)
		}
		out = append(out, backend.JobAddResult{Status: backend.AddCreated, ID: str(r[0]),
			State: stateLetters[stateByte(str(r[1]))], AddedAt: msTime(num(r[2]))})
	}
	if len(out) != len(nodes)/flowNodeArgs {
		return nil, fmt.Errorf("redis: flow add returned %d results for %d jobs", len(out), len(nodes)/flowNodeArgs)
	}
	seen := map[string]bool{}
	for i := 8; i < len(nodes); i += flowNodeArgs {
		name := nodes[i].(string)
		if !seen[name] {
			seen[name] = true
			nq := b.queue(name)
			nq.signal()
			b.register(ctx, name, nq)
		}
	}
	if !seen[queue] {
		q.signal()
		b.register(ctx, queue, q)
	}
	return out, nil
}

// FlowChildren implements backend.Flows.
func (b *Backend) FlowChildren(ctx context.Context, p *backend.JobGetParams) (*backend.FlowChildren, error) {
	v, err := b.run(ctx, b.s.flowChildren, b.queue(p.Queue), p.ID)
	if err != nil {
		return nil, err
	}
	if err := code(v, p.ID); err != nil {
		return nil, err
	}
	arr, _ := v.([]any)
	if len(arr) != 3 {
		return nil, fmt.Errorf("redis: malformed flow children reply %v", v)
	}
	out := &backend.FlowChildren{Values: map[string][]byte{}, Failed: map[string]string{},
		Pending: int(num(arr[0])), Total: int(num(arr[1]))}
	if err := decodeFlowEntries(str(arr[2]), out); err != nil {
		return nil, fmt.Errorf("redis: job %q: children: %w", p.ID, err)
	}
	return out, nil
}

// decodeFlowEntries parses lib_flows.lua's entries: "V<len>:<child
// id><len>:<value>" for a completed child, "X..." with the reason for a
// failed one.
func decodeFlowEntries(s string, out *backend.FlowChildren) error {
	field := func() (string, error) {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i >= len(s) || s[i] != ':' {
			return "", fmt.Errorf("malformed entry at %q", s)
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil || n > len(s)-i-1 {
			return "", fmt.Errorf("malformed entry length %q", s[:i])
		}
		v := s[i+1 : i+1+n]
		s = s[i+1+n:]
		return v, nil
	}
	for s != "" {
		kind := s[0]
		s = s[1:]
		id, err := field()
		if err != nil {
			return err
		}
		v, err := field()
		if err != nil {
			return err
		}
		switch kind {
		case 'V':
			out.Values[id] = []byte(v)
		case 'X':
			out.Failed[id] = v
		default:
			return fmt.Errorf("unknown entry kind %q", kind)
		}
	}
	return nil
}

// FlowsSpanQueues implements backend.FlowsAcrossQueues. A child's
// finish, one script call on its queue's keys, moves a parent in another
// queue by building that queue's keys in the script (lua/lib_flows.lua):
// fine on one Redis server; on Cluster (or a Ring, or any client that
// shards keys) only for keys of one hash tag, which one node holds; refused
// by Upstash's key locking. So a backend made by New with a *redis.Client
// links any queues; with any other client it links the queues of one hash
// tag (see WithHashTag), which FlowAdd checks, and reports true once
// WithHashTag is set; one made by NewWithConn links any queues when its
// Conn says scripts may touch undeclared keys (UndeclaredKeys;
// upstash.Config.GlobalLock), else none.
func (b *Backend) FlowsSpanQueues() bool {
	s := b.flowSpan()
	return s == spanAll || s == spanTag && b.opts.hashTag != nil
}

// span says which trees across queues a backend links.
type span int

const (
	spanNone span = iota // none: a transport whose scripts touch only their declared keys
	spanTag              // those whose queues share a hash tag: a client that shards keys by it
	spanAll              // any: one server
)

func (b *Backend) flowSpan() span {
	c, ok := b.conn.(*goredisConn)
	if !ok {
		if u, ok := b.conn.(UndeclaredKeys); ok && u.UndeclaredKeys() {
			return spanAll
		}
		return spanNone
	}
	if _, one := c.rdb.(*redis.Client); one {
		return spanAll // one server, or Sentinel's master
	}
	return spanTag
}

// flowQueues refuses a tree (queues filled in by backend.CheckFlow) whose
// queues this backend does not link.
func (b *Backend) flowQueues(root *backend.FlowNode) error {
	switch b.flowSpan() {
	case spanNone:
		return backend.OneQueue(root, "this transport runs scripts on their declared keys only (Upstash's key locking), "+
			"and the Redis backend links queues by reaching into another queue's keys: keep the tree in one queue, "+
			"or on Upstash set upstash.Config.GlobalLock (docs/flows.md)")
	case spanTag:
		return b.oneTag(root, root)
	}
	return nil
}

// oneTag refuses a tree with a node whose queue's keys have another hash
// tag than its root's: a client that shards keys (Cluster, Ring) may keep
// them on another node.
func (b *Backend) oneTag(root, f *backend.FlowNode) error {
	want := hashTag(b.queue(root.Queue).base())
	for i := range f.Children {
		c := &f.Children[i]
		if tag := hashTag(b.queue(c.Queue).base()); tag != want {
			return fmt.Errorf("%w: job %q is in queue %q, hash tag %q, and its flow's root in %q, hash tag %q: "+
				"on Redis Cluster (or any client that shards keys) a tree's queues must share a hash tag; give them one with redisbackend.WithHashTag (docs/flows.md)",
				backend.ErrInvalidFlow, c.Job.Name, c.Queue, tag, root.Queue, want)
		}
		if err := b.oneTag(root, c); err != nil {
			return err
		}
	}
	return nil
}
