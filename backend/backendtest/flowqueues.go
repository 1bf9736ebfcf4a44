package backendtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

// runFlowQueues covers flows whose jobs are in several queues: a child
// finishing in its queue moves its parent along in the parent's.
func runFlowQueues(t *testing.T, f Factory) {
	// queues returns the subtest's bundle and n more on the same backend,
	// each with its own queue.
	queues := func(t *testing.T, n int) (backend.Flows, []*bundle) {
		b := setup(t, f)
		fl, ok := b.be.(backend.Flows)
		if !ok {
			t.Skip("backend does not implement backend.Flows (fila.AddFlow)")
		}
		out := []*bundle{b}
		for i := 0; i < n; i++ {
			out = append(out, &bundle{t: t, be: b.be, queue: b.queue + "-q" + string(rune('1'+i)), ctx: b.ctx, n: 100 * (i + 1)})
		}
		return fl, out
	}
	node := func(queue, name string, p backend.ChildPolicy, children ...backend.FlowNode) backend.FlowNode {
		return backend.FlowNode{Queue: queue, Job: backend.JobAddItem{Name: name, Data: []byte(`{}`), Options: backend.JobOptions{Attempts: 1}}, OnFailure: p, Children: children}
	}
	runAll := (*bundle).runAll
	key := backend.ChildKey
	missing := func(b *bundle, id string) {
		b.t.Helper()
		_, err := b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: b.queue, ID: id})
		require.ErrorIs(b.t, err, backend.ErrJobNotFound, "job %s in %s", id, b.queue)
	}

	if be, ok := f(t).(backend.FlowsAcrossQueues); ok && !be.FlowsSpanQueues() {
		t.Run("a tree across queues is refused and stores nothing", func(t *testing.T) {
			fl, q := queues(t, 1)
			_, err := fl.FlowAdd(q[0].ctx, &backend.FlowAddParams{Queue: q[0].queue, Root: node("", "p", "", node("", "a", ""), node(q[1].queue, "b", ""))})
			require.ErrorIs(t, err, backend.ErrInvalidFlow)
			require.Contains(t, err.Error(), q[1].queue)
			require.Equal(t, backend.Counts{}, q[0].counts())
			require.Equal(t, backend.Counts{}, q[1].counts())
		})
		return
	}

	t.Run("a parent runs after its children in other queues and reads them by queue and ID", func(t *testing.T) {
		fl, q := queues(t, 2)
		res, err := fl.FlowAdd(q[0].ctx, &backend.FlowAddParams{Queue: q[0].queue, Root: node("", "parent", "",
			node("", "a", ""),
			node(q[1].queue, "d", "", node(q[0].queue, "d1", "")),
			node(q[2].queue, "s", ""))})
		require.NoError(t, err)
		require.Len(t, res, 5)
		parent, a, d, d1, s := res[0].ID, res[1].ID, res[2].ID, res[3].ID, res[4].ID
		require.Equal(t, backend.StateWaitingChildren, q[0].get(parent).State)
		require.Equal(t, backend.StateWaitingChildren, q[1].get(d).State)
		require.Equal(t, backend.Counts{Waiting: 2, WaitingChildren: 1}, q[0].counts())
		require.Equal(t, backend.Counts{WaitingChildren: 1}, q[1].counts())
		require.Equal(t, backend.Counts{Waiting: 1}, q[2].counts())

		require.ElementsMatch(t, []string{"a", "d1"}, runAll(q[0]))
		require.Equal(t, []string{"d"}, runAll(q[1]), "d1 in the first queue released d in the second")
		require.Empty(t, runAll(q[0]), "s is still pending")
		require.Equal(t, []string{"s"}, runAll(q[2]))
		require.Equal(t, []string{"parent"}, runAll(q[0]))

		c, err := fl.FlowChildren(q[0].ctx, &backend.JobGetParams{Queue: q[0].queue, ID: parent})
		require.NoError(t, err)
		require.Equal(t, map[string][]byte{
			a:                              []byte(`"a"`),
			key(q[0].queue, q[1].queue, d): []byte(`"d"`),
			key(q[0].queue, q[2].queue, s): []byte(`"s"`),
		}, c.Values)
		require.Equal(t, 3, c.Total)
		c, err = fl.FlowChildren(q[1].ctx, &backend.JobGetParams{Queue: q[1].queue, ID: d})
		require.NoError(t, err)
		require.Equal(t, map[string][]byte{q[0].queue + ":" + d1: []byte(`"d1"`)}, c.Values)
		for _, b := range q {
			require.EqualValues(t, 0, b.counts().WaitingChildren)
		}
	})

	t.Run("a child failing in another queue applies its policy to the parent", func(t *testing.T) {
		fl, q := queues(t, 1)
		res, err := fl.FlowAdd(q[0].ctx, &backend.FlowAddParams{Queue: q[0].queue, Root: node("", "root", "",
			node(q[1].queue, "mid", "", node(q[1].queue, "ign", backend.ChildIgnore), node(q[0].queue, "leaf", "")))})
		require.NoError(t, err)
		root, mid, ign, leaf := res[0].ID, res[1].ID, res[2].ID, res[3].ID

		j, tok := q[1].mustClaim()
		require.Equal(t, "ign", j.Name)
		_, err = q[1].be.JobFail(q[1].ctx, &backend.JobFailParams{Queue: q[1].queue, ID: ign, Token: tok, Reason: "boom ign"})
		require.NoError(t, err)
		require.Equal(t, backend.StateWaitingChildren, q[1].get(mid).State, "an ignored failure does not fail mid")
		c, err := fl.FlowChildren(q[1].ctx, &backend.JobGetParams{Queue: q[1].queue, ID: mid})
		require.NoError(t, err)
		require.Equal(t, map[string]string{ign: "boom ign"}, c.Failed, "a child in its parent's queue is named by its ID")

		j, tok = q[0].mustClaim()
		require.Equal(t, "leaf", j.Name)
		_, err = q[0].be.JobFail(q[0].ctx, &backend.JobFailParams{Queue: q[0].queue, ID: leaf, Token: tok, Reason: "boom leaf"})
		require.NoError(t, err)
		m := q[1].get(mid)
		require.Equal(t, backend.StateFailed, m.State)
		require.Contains(t, m.FailedReason, "child "+q[0].queue+":"+leaf+" failed: boom leaf")
		r := q[0].get(root)
		require.Equal(t, backend.StateFailed, r.State, "the failure climbs back to the root's queue")
		require.Contains(t, r.FailedReason, q[1].queue+":"+mid)
		require.EqualValues(t, 2, q[1].counts().Failed, "mid, and ign: an ignored child is failed itself")
		require.Equal(t, backend.Counts{Failed: 2}, q[0].counts())
	})

	t.Run("removing a parent removes its unfinished children in other queues", func(t *testing.T) {
		fl, q := queues(t, 2)
		res, err := fl.FlowAdd(q[0].ctx, &backend.FlowAddParams{Queue: q[0].queue, Root: node("", "parent", "",
			node(q[1].queue, "x", ""),
			node(q[1].queue, "y", "", node(q[2].queue, "y1", "")))})
		require.NoError(t, err)
		require.NoError(t, q[0].be.JobRemove(q[0].ctx, &backend.JobRemoveParams{Queue: q[0].queue, ID: res[0].ID}))
		missing(q[0], res[0].ID)
		missing(q[1], res[1].ID)
		missing(q[1], res[2].ID)
		missing(q[2], res[3].ID)
		for _, b := range q {
			require.Equal(t, backend.Counts{}, b.counts(), b.queue)
		}
	})

	t.Run("removing a pending child in another queue releases its parent", func(t *testing.T) {
		fl, q := queues(t, 1)
		res, err := fl.FlowAdd(q[0].ctx, &backend.FlowAddParams{Queue: q[0].queue, Root: node("", "parent", "", node(q[1].queue, "a", ""))})
		require.NoError(t, err)
		require.NoError(t, q[1].be.JobRemove(q[1].ctx, &backend.JobRemoveParams{Queue: q[1].queue, ID: res[1].ID}))
		require.Equal(t, []string{"parent"}, runAll(q[0]))
	})

	t.Run("obliterating a queue lets go of the flows of other queues", func(t *testing.T) {
		fl, q := queues(t, 2)
		// q1 holds the first tree's only child and the second tree's parent.
		res, err := fl.FlowAdd(q[0].ctx, &backend.FlowAddParams{Queue: q[0].queue, Root: node("", "p", "", node(q[1].queue, "c", ""))})
		require.NoError(t, err)
		res2, err := fl.FlowAdd(q[1].ctx, &backend.FlowAddParams{Queue: q[1].queue, Root: node("", "p2", "", node(q[2].queue, "c2", ""))})
		require.NoError(t, err)
		require.NoError(t, q[1].be.QueueObliterate(q[1].ctx, &backend.QueueObliterateParams{Queue: q[1].queue, Force: true}))
		require.Equal(t, []string{"p"}, runAll(q[0]), "p stopped waiting for its obliterated child")
		missing(q[2], res2[1].ID)
		require.Equal(t, backend.Counts{}, q[2].counts(), "p2's unfinished child went with it")
		c, err := fl.FlowChildren(q[0].ctx, &backend.JobGetParams{Queue: q[0].queue, ID: res[0].ID})
		require.NoError(t, err)
		require.Empty(t, c.Values, "a child gone delivers nothing")
		require.Zero(t, c.Pending)
	})

	t.Run("a running job waits for children it adds in another queue", func(t *testing.T) {
		fl, q := queues(t, 1)
		id := q[0].add("parent", backend.JobOptions{})
		j, tok := q[0].mustClaim()
		require.Equal(t, id, j.ID)
		res, err := fl.FlowWaitChildren(q[0].ctx, &backend.FlowWaitChildrenParams{Queue: q[0].queue, ID: id, Token: tok,
			Children: []backend.FlowNode{node(q[1].queue, "far", ""), node("", "near", "")}})
		require.NoError(t, err)
		require.Len(t, res, 2)
		require.Equal(t, backend.StateWaitingChildren, q[0].get(id).State)
		require.Equal(t, "far", q[1].get(res[0].ID).Name)
		require.Equal(t, []string{"near"}, runAll(q[0]))
		require.Equal(t, []string{"far"}, runAll(q[1]))
		require.Equal(t, []string{"parent"}, runAll(q[0]))
		c, err := fl.FlowChildren(q[0].ctx, &backend.JobGetParams{Queue: q[0].queue, ID: id})
		require.NoError(t, err)
		require.Len(t, c.Values, 2)
		require.Equal(t, `"far"`, string(c.Values[q[1].queue+":"+res[0].ID]))
	})

	t.Run("a child stalling too often in another queue fails its parent", func(t *testing.T) {
		fl, q := queues(t, 1)
		res, err := fl.FlowAdd(q[0].ctx, &backend.FlowAddParams{Queue: q[0].queue, Root: node("", "parent", "", node(q[1].queue, "lost", ""))})
		require.NoError(t, err)
		p := q[1].claimParams(q[1].token())
		p.LockDuration = 50 * time.Millisecond
		c, err := q[1].be.JobClaim(q[1].ctx, p)
		require.NoError(t, err)
		require.NotNil(t, c.Job)
		time.Sleep(200 * time.Millisecond)
		for i := 0; i < 2; i++ {
			_, err := q[1].be.StalledCheck(q[1].ctx, &backend.StalledCheckParams{Queue: q[1].queue, MaxStalledCount: 0})
			require.NoError(t, err)
		}
		parent := q[0].get(res[0].ID)
		require.Equal(t, backend.StateFailed, parent.State)
		require.Contains(t, parent.FailedReason, q[1].queue+":"+res[1].ID)
	})

	t.Run("a drain lets go of the flows of other queues", func(t *testing.T) {
		fl, q := queues(t, 2)
		// q1 holds the first tree's pending child, waiting and delayed,
		// and the second tree's parent.
		delayed := node(q[1].queue, "c2", "")
		delayed.Job.Options.Delay = time.Hour
		res, err := fl.FlowAdd(q[0].ctx, &backend.FlowAddParams{Queue: q[0].queue, Root: node("", "p", "", node(q[1].queue, "c", ""), delayed)})
		require.NoError(t, err)
		res2, err := fl.FlowAdd(q[1].ctx, &backend.FlowAddParams{Queue: q[1].queue, Root: node("", "p2", "", node(q[2].queue, "k", ""))})
		require.NoError(t, err)
		n, err := q[1].be.QueueDrain(q[1].ctx, &backend.QueueDrainParams{Queue: q[1].queue, Delayed: true})
		require.NoError(t, err)
		require.Equal(t, 3, n, "c, c2 and p2")
		require.Equal(t, backend.Counts{}, q[1].counts())
		require.Equal(t, []string{"p"}, runAll(q[0]), "p stopped waiting for its drained children")
		missing(q[2], res2[1].ID)
		require.Equal(t, backend.Counts{}, q[2].counts(), "p2's unfinished child went with it")
		c, err := fl.FlowChildren(q[0].ctx, &backend.JobGetParams{Queue: q[0].queue, ID: res[0].ID})
		require.NoError(t, err)
		require.Empty(t, c.Values)
	})

	t.Run("cleaning a pending child in another queue releases its parent", func(t *testing.T) {
		fl, q := queues(t, 1)
		_, err := fl.FlowAdd(q[0].ctx, &backend.FlowAddParams{Queue: q[0].queue, Root: node("", "p", "", node(q[1].queue, "c", ""))})
		require.NoError(t, err)
		gone, err := q[1].be.QueueClean(q[1].ctx, &backend.QueueCleanParams{Queue: q[1].queue, State: backend.StateWaiting})
		require.NoError(t, err)
		require.Len(t, gone, 1)
		require.Equal(t, []string{"p"}, runAll(q[0]))
	})

	t.Run("an ID is a clash only within its queue", func(t *testing.T) {
		fl, q := queues(t, 1)
		same := node("", "p", "", node("", "x", ""), node(q[1].queue, "y", ""))
		same.Children[0].Job.ID, same.Children[1].Job.ID = "job-1", "job-1"
		res, err := fl.FlowAdd(q[0].ctx, &backend.FlowAddParams{Queue: q[0].queue, Root: same})
		require.NoError(t, err)
		require.Equal(t, "job-1", res[2].ID)

		twice := node("", "p2", "", node(q[1].queue, "x", ""), node(q[1].queue, "y", ""))
		twice.Children[0].Job.ID, twice.Children[1].Job.ID = "job-2", "job-2"
		_, err = fl.FlowAdd(q[0].ctx, &backend.FlowAddParams{Queue: q[0].queue, Root: twice})
		require.ErrorIs(t, err, backend.ErrInvalidFlow)

		clash := node("", "p3", "", node("", "x", ""), node(q[1].queue, "y", ""))
		clash.Children[1].Job.ID = "job-1" // taken in the second queue
		_, err = fl.FlowAdd(q[0].ctx, &backend.FlowAddParams{Queue: q[0].queue, Root: clash})
		require.ErrorIs(t, err, backend.ErrInvalidFlow)
		require.Equal(t, backend.Counts{Waiting: 1, WaitingChildren: 1}, q[0].counts(), "the refused trees stored nothing")
		require.Equal(t, backend.Counts{Waiting: 1}, q[1].counts())
	})
}
