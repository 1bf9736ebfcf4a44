package redisbackend

import (
	"context"
	"fmt"
	"strconv"

	"github.com/fila-go/fila/backend"
)

var _ backend.Flows = (*Backend)(nil)

// FlowAdd implements backend.Flows: the whole tree in one call of
// lua/flow_add.lua, so it is stored whole or not at all. Every key it
// touches is the queue's, so the call is single-slot on Cluster.
func (b *Backend) FlowAdd(ctx context.Context, p *backend.FlowAddParams) ([]backend.JobAddResult, error) {
	if err := backend.CheckFlow(p.Queue, &p.Root); err != nil {
		return nil, err
	}
	if err := backend.OneQueue(&p.Root, "the Redis backend links the jobs of one queue only: keep the tree in one queue there (docs/flows.md)"); err != nil {
		return nil, err
	}
	var nodes []any
	if err := flowArgs(&nodes, &p.Root, 0); err != nil {
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
	if err := backend.OneQueue(&root, "the Redis backend links the jobs of one queue only: keep the tree in one queue there (docs/flows.md)"); err != nil {
		return nil, err
	}
	var nodes []any
	for i := range p.Children {
		if err := flowArgs(&nodes, &p.Children[i], 0); err != nil {
			return nil, err
		}
	}
	return b.flowRun(ctx, p.Queue, p.ID, p.Token, nodes)
}

// flowNodeArgs is the number of flow_add.lua values per node.
const flowNodeArgs = 8

// flowArgs appends f and its children, depth first, as flow_add.lua's
// node values; parent is the 1-based index of f's parent, 0 for none.
func flowArgs(nodes *[]any, f *backend.FlowNode, parent int) error {
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
	}
	*nodes = append(*nodes, it.ID, it.Options.Priority, lifo, it.Options.Group, ms(it.Options.Delay), parent, policy, body)
	self := len(*nodes) / flowNodeArgs
	for i := range f.Children {
		if err := flowArgs(nodes, &f.Children[i], self); err != nil {
			return err
		}
	}
	return nil
}

// flowRun calls flow_add.lua and decodes its reply.
func (b *Backend) flowRun(ctx context.Context, queue, id, token string, nodes []any) ([]backend.JobAddResult, error) {
	q := b.queue(queue)
	args := append([]any{id, token, len(nodes) / flowNodeArgs}, nodes...)
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
	q.signal()
	b.register(ctx, queue, q)
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

// FlowsSpanQueues implements backend.FlowsAcrossQueues: no. Each queue's
// keys are their own hash slot on Cluster and their own locked keys on
// Upstash, and a child's finish, one script call on its queue's keys,
// cannot reach a parent in another queue.
func (b *Backend) FlowsSpanQueues() bool { return false }
