package backendtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

func runFlows(t *testing.T, f Factory) {
	flows := func(b *bundle) backend.Flows {
		b.t.Helper()
		fl, ok := b.be.(backend.Flows)
		if !ok {
			b.t.Skip("backend does not implement backend.Flows (fila.AddFlow)")
		}
		return fl
	}
	node := func(name string, p backend.ChildPolicy, children ...backend.FlowNode) backend.FlowNode {
		return backend.FlowNode{Job: backend.JobAddItem{Name: name, Data: []byte(`{}`), Options: backend.JobOptions{Attempts: 1}}, OnFailure: p, Children: children}
	}
	addFlow := func(b *bundle, fl backend.Flows, root backend.FlowNode) []backend.JobAddResult {
		b.t.Helper()
		res, err := fl.FlowAdd(b.ctx, &backend.FlowAddParams{Queue: b.queue, Root: root})
		require.NoError(b.t, err)
		return res
	}
	children := func(b *bundle, fl backend.Flows, id string) *backend.FlowChildren {
		b.t.Helper()
		c, err := fl.FlowChildren(b.ctx, &backend.JobGetParams{Queue: b.queue, ID: id})
		require.NoError(b.t, err)
		return c
	}
	runAll := (*bundle).runAll
	fail := func(b *bundle, name string) string {
		b.t.Helper()
		j, tok := b.mustClaim()
		require.Equal(b.t, name, j.Name)
		_, err := b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "boom " + name})
		require.NoError(b.t, err)
		return j.ID
	}

	t.Run("the parent runs only after every child, and reads their values", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		res := addFlow(b, fl, node("parent", "", node("a", ""), node("b", "", node("b1", "")), node("c", "")))
		require.Len(t, res, 5)
		parent, bID := res[0].ID, res[2].ID
		require.Equal(t, backend.StateWaitingChildren, res[0].State)
		require.Equal(t, backend.StateWaitingChildren, res[2].State)
		require.Equal(t, backend.StateWaitingChildren, b.get(parent).State)
		c := b.counts()
		require.EqualValues(t, 2, c.WaitingChildren)
		require.EqualValues(t, 3, c.Waiting)
		require.ElementsMatch(t, []string{parent, bID}, b.list(backend.StateWaitingChildren))

		// a, b1, c run; b becomes ready after b1; the parent after b.
		require.Equal(t, []string{"a", "b1", "c", "b", "parent"}, runAll(b))
		got := children(b, fl, parent)
		require.Equal(t, 0, got.Pending)
		require.Len(t, got.Values, 3)
		require.Equal(t, `"b"`, string(got.Values[bID]))
		require.Equal(t, `"a"`, string(got.Values[res[1].ID]))
		require.Empty(t, got.Failed)
		require.Equal(t, backend.StateCompleted, b.get(parent).State)
		require.EqualValues(t, 0, b.counts().WaitingChildren)
	})

	t.Run("a child removed on completion still delivers its value", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		child := node("a", "")
		child.Job.Options.RemoveOnComplete = backend.Retention{Remove: true}
		res := addFlow(b, fl, node("parent", "", child))
		require.Equal(t, []string{"a", "parent"}, runAll(b))
		_, err := b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: b.queue, ID: res[1].ID})
		require.ErrorIs(t, err, backend.ErrJobNotFound)
		require.Equal(t, `"a"`, string(children(b, fl, res[0].ID).Values[res[1].ID]))
	})

	t.Run("a failed child fails its parent by default, naming the child", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		res := addFlow(b, fl, node("root", "", node("mid", "", node("leaf", "")), node("other", "")))
		leaf := fail(b, "leaf")
		mid := b.get(res[1].ID)
		require.Equal(t, backend.StateFailed, mid.State)
		require.Contains(t, mid.FailedReason, leaf)
		require.Contains(t, mid.FailedReason, "boom leaf")
		root := b.get(res[0].ID)
		require.Equal(t, backend.StateFailed, root.State, "the failure climbs to the root")
		require.Contains(t, root.FailedReason, res[1].ID)
		// the sibling still runs; nothing waits for children any more.
		require.Equal(t, []string{"other"}, runAll(b))
		require.EqualValues(t, 0, b.counts().WaitingChildren)
	})

	t.Run("ignore records the failure and remove drops the dependency", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		res := addFlow(b, fl, node("parent", "", node("ign", backend.ChildIgnore), node("rm", backend.ChildRemove), node("ok", "")))
		ign := fail(b, "ign")
		fail(b, "rm")
		require.Equal(t, backend.StateWaitingChildren, b.get(res[0].ID).State)
		require.Equal(t, []string{"ok", "parent"}, runAll(b))
		got := children(b, fl, res[0].ID)
		require.Equal(t, map[string]string{ign: "boom ign"}, got.Failed)
		require.Equal(t, map[string][]byte{res[3].ID: []byte(`"ok"`)}, got.Values)
	})

	t.Run("continue records the failure and releases the parent at once", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		res := addFlow(b, fl, node("parent", "", node("cont", backend.ChildContinue), node("late", "")))
		cont := fail(b, "cont")
		require.Equal(t, backend.StateWaiting, b.get(res[0].ID).State, "released with a child still pending")
		require.Equal(t, backend.Counts{Waiting: 2, Failed: 1}, b.counts())
		require.Equal(t, []string{"late", "parent"}, runAll(b))
		got := children(b, fl, res[0].ID)
		require.Equal(t, map[string]string{cont: "boom cont"}, got.Failed)
		require.Equal(t, map[string][]byte{res[2].ID: []byte(`"late"`)}, got.Values,
			"a child finishing after the release is recorded, though the parent may have run already")
		require.Zero(t, got.Pending)
	})

	// A parent released by ContinueParent runs while a sibling is pending;
	// the sibling finishes while the parent is active. If the parent then
	// fans out again (WaitForChildren), the sibling must not keep it
	// waiting forever: it finished, and its outcome is recorded.
	t.Run("a parent released by continue that waits again is released by its new children", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		res := addFlow(b, fl, node("parent", "", node("cont", backend.ChildContinue), node("late", "")))
		fail(b, "cont")
		j, tok := b.mustClaim()
		require.Equal(t, "late", j.Name)
		p, ptok := b.mustClaim()
		require.Equal(t, res[0].ID, p.ID, "the parent, released by cont's failure")
		_, err := b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: j.ID, Token: tok, ReturnValue: []byte(`"late"`)})
		require.NoError(t, err, "late finishes while its parent is active")
		_, err = fl.FlowWaitChildren(b.ctx, &backend.FlowWaitChildrenParams{Queue: b.queue, ID: p.ID, Token: ptok,
			Children: []backend.FlowNode{node("more", "")}})
		require.NoError(t, err)
		require.Equal(t, []string{"more", "parent"}, runAll(b), "the parent runs again once its new child is done")
		require.Equal(t, backend.Counts{Completed: 3, Failed: 1}, b.counts())
	})

	t.Run("only a child's final outcome reaches its parent; a cancel applies its policy", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		retried := node("retried", "")
		retried.Job.Options.Attempts = 2
		res := addFlow(b, fl, node("parent", "", retried, node("cancelled", backend.ChildIgnore)))
		j, tok := b.mustClaim()
		require.Equal(t, "retried", j.Name)
		_, err := b.be.JobFail(b.ctx, &backend.JobFailParams{Queue: b.queue, ID: j.ID, Token: tok, Reason: "once", Retry: true})
		require.NoError(t, err)
		require.Equal(t, backend.StateWaitingChildren, b.get(res[0].ID).State, "a retried child is not finished")
		if c, ok := b.be.(backend.Cancellers); ok {
			_, err := c.JobCancel(b.ctx, &backend.JobCancelParams{Queue: b.queue, ID: res[2].ID})
			require.NoError(t, err)
		} else {
			fail(b, "cancelled")
		}
		require.Equal(t, []string{"retried", "parent"}, runAll(b))
		got := children(b, fl, res[0].ID)
		require.Contains(t, got.Failed, res[2].ID)
		require.Equal(t, `"retried"`, string(got.Values[res[1].ID]))
	})

	t.Run("removing a parent removes its unfinished children", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		res := addFlow(b, fl, node("parent", "", node("a", ""), node("b", "", node("b1", ""))))
		j, _ := b.claim() // a, left active
		require.Equal(t, "a", j.Name)
		require.NoError(t, b.be.JobRemove(b.ctx, &backend.JobRemoveParams{Queue: b.queue, ID: res[0].ID}))
		for _, r := range res[2:] {
			_, err := b.be.JobGet(b.ctx, &backend.JobGetParams{Queue: b.queue, ID: r.ID})
			require.ErrorIs(t, err, backend.ErrJobNotFound, "job %s", r.ID)
		}
		require.Equal(t, backend.StateActive, b.get(res[1].ID).State, "an active child is left to finish")
		c := b.counts()
		require.EqualValues(t, 0, c.WaitingChildren)
		require.EqualValues(t, 0, c.Waiting)
	})

	t.Run("removing a pending child releases a parent left with none", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		res := addFlow(b, fl, node("parent", "", node("a", "")))
		require.NoError(t, b.be.JobRemove(b.ctx, &backend.JobRemoveParams{Queue: b.queue, ID: res[1].ID}))
		require.Equal(t, []string{"parent"}, runAll(b))
	})

	t.Run("a drain removes waiting parents with their children", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		addFlow(b, fl, node("held", "", node("x", ""), node("y", "")))
		x, tok := b.mustClaim()
		require.Equal(t, "x", x.Name)
		addFlow(b, fl, node("root", "", node("mid", "", node("leaf", "")), node("a", "")))
		_, err := b.be.QueueDrain(b.ctx, &backend.QueueDrainParams{Queue: b.queue})
		require.NoError(t, err)
		require.Equal(t, backend.Counts{Active: 1}, b.counts(), "parents and their children are gone, x is left to finish")
		_, err = b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: x.ID, Token: tok})
		require.NoError(t, err)
		require.Empty(t, runAll(b))
		require.Equal(t, backend.Counts{Completed: 1}, b.counts())
	})

	t.Run("draining a child's group releases its parent", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		g, ok := b.be.(backend.Groups)
		if !ok {
			t.Skip("backend does not implement backend.Groups")
		}
		grouped := node("a", "")
		grouped.Job.Options.Group = "tenant"
		addFlow(b, fl, node("parent", "", grouped))
		n, err := g.GroupDrain(b.ctx, &backend.GroupParams{Queue: b.queue, Group: "tenant"})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Equal(t, []string{"parent"}, runAll(b), "the parent stopped waiting for the drained child")
	})

	t.Run("cleaning a pending child releases its parent", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		res := addFlow(b, fl, node("parent", "", node("a", "")))
		ids, err := b.be.QueueClean(b.ctx, &backend.QueueCleanParams{Queue: b.queue, State: backend.StateWaiting, Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []string{res[1].ID}, ids)
		require.Equal(t, []string{"parent"}, runAll(b), "the parent stopped waiting for the cleaned child")
	})

	t.Run("a running job adds children and waits for them", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		id := b.add("parent", backend.JobOptions{})
		j, tok := b.mustClaim()
		require.Equal(t, id, j.ID)
		kids := []backend.FlowNode{node("a", ""), node("b", "")}
		_, err := fl.FlowWaitChildren(b.ctx, &backend.FlowWaitChildrenParams{Queue: b.queue, ID: id, Token: "not-the-holder", Children: kids})
		require.ErrorIs(t, err, backend.ErrLockLost)
		_, err = fl.FlowWaitChildren(b.ctx, &backend.FlowWaitChildrenParams{Queue: b.queue, ID: id, Token: tok})
		require.ErrorIs(t, err, backend.ErrInvalidFlow)
		require.Equal(t, backend.Counts{Active: 1}, b.counts(), "refusals store nothing")

		res, err := fl.FlowWaitChildren(b.ctx, &backend.FlowWaitChildrenParams{Queue: b.queue, ID: id, Token: tok, Children: kids})
		require.NoError(t, err)
		require.Len(t, res, 2)
		require.Equal(t, backend.StateWaitingChildren, b.get(id).State)
		_, err = b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: id, Token: tok})
		require.ErrorIs(t, err, backend.ErrLockLost, "the move released the lock")
		require.Equal(t, []string{"a", "b", "parent"}, runAll(b))
		got := children(b, fl, id)
		require.Equal(t, 2, got.Total)
		require.Len(t, got.Values, 2)
		require.Equal(t, 2, b.get(id).AttemptsStarted, "the parent ran twice")
	})

	t.Run("grouped leaves that would overfill their group store nothing", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		g, ok := b.be.(backend.Groups)
		if !ok {
			t.Skip("backend does not implement backend.Groups")
		}
		require.NoError(t, g.GroupOptionsSet(b.ctx, &backend.GroupOptionsParams{Queue: b.queue, Options: backend.GroupOptions{MaxSize: 2}}))
		grouped := func() backend.FlowNode {
			n := node("g", "")
			n.Job.Options.Group = "tenant"
			return n
		}
		_, err := fl.FlowAdd(b.ctx, &backend.FlowAddParams{Queue: b.queue, Root: node("p", "", grouped(), grouped(), grouped())})
		require.ErrorIs(t, err, backend.ErrInvalidFlow)
		require.Equal(t, backend.Counts{}, b.counts())
		require.Len(t, addFlow(b, fl, node("p", "", grouped(), grouped())), 3)
	})

	t.Run("a child that stalls too often fails its parent", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		res := addFlow(b, fl, node("parent", "", node("lost", "")))
		tok := b.token()
		p := b.claimParams(tok)
		p.LockDuration = 50 * time.Millisecond
		c, err := b.be.JobClaim(b.ctx, p)
		require.NoError(t, err)
		require.NotNil(t, c.Job)
		time.Sleep(200 * time.Millisecond)
		for i := 0; i < 2; i++ {
			_, err := b.be.StalledCheck(b.ctx, &backend.StalledCheckParams{Queue: b.queue, MaxStalledCount: 0})
			require.NoError(t, err)
		}
		require.Equal(t, backend.StateFailed, b.get(res[1].ID).State)
		parent := b.get(res[0].ID)
		require.Equal(t, backend.StateFailed, parent.State)
		require.Contains(t, parent.FailedReason, res[1].ID)
		require.Contains(t, strings.ToLower(parent.FailedReason), "stalled")
		require.EqualValues(t, 0, b.counts().WaitingChildren)
	})

	t.Run("delayed, prioritized and grouped children release their parent", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		delayed, prio := node("delayed", ""), node("prio", "")
		delayed.Job.Options.Delay = 100 * time.Millisecond
		prio.Job.Options.Priority = 3
		kids := []backend.FlowNode{delayed, prio}
		if _, ok := b.be.(backend.Groups); ok {
			g := node("grouped", "")
			g.Job.Options.Group = "tenant"
			kids = append(kids, g)
		}
		res := addFlow(b, fl, node("parent", "", kids...))
		require.Equal(t, backend.StateDelayed, res[1].State)
		require.Equal(t, backend.StatePrioritized, res[2].State)
		var names []string
		b.eventually(func() bool {
			names = append(names, runAll(b)...)
			return len(names) == len(kids)+1
		}, "every child, then the parent, runs")
		require.Equal(t, "parent", names[len(names)-1])
		require.Len(t, children(b, fl, res[0].ID).Values, len(kids))
	})

	t.Run("a cancelled parent fails and its children still run", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		c, ok := b.be.(backend.Cancellers)
		if !ok {
			t.Skip("backend does not implement backend.Cancellers")
		}
		res := addFlow(b, fl, node("parent", "", node("a", "")))
		was, err := c.JobCancel(b.ctx, &backend.JobCancelParams{Queue: b.queue, ID: res[0].ID})
		require.NoError(t, err)
		require.Equal(t, backend.StateWaitingChildren, was)
		require.Equal(t, backend.StateFailed, b.get(res[0].ID).State)
		require.EqualValues(t, 0, b.counts().WaitingChildren)
		require.Equal(t, []string{"a"}, runAll(b))
	})

	t.Run("waiting parents list oldest first", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		var parents []string
		for i := 0; i < 3; i++ {
			parents = append(parents, addFlow(b, fl, node(fmt.Sprint("p", i), "", node("c", "")))[0].ID)
			time.Sleep(2 * time.Millisecond)
		}
		require.Equal(t, parents, b.list(backend.StateWaitingChildren))
		page, err := b.be.JobList(b.ctx, &backend.JobListParams{Queue: b.queue, State: backend.StateWaitingChildren, Offset: 1, Limit: 1})
		require.NoError(t, err)
		require.Len(t, page, 1)
		require.Equal(t, parents[1], page[0].ID)
		require.Equal(t, backend.StateWaitingChildren, page[0].State)
	})

	t.Run("invalid trees store nothing", func(t *testing.T) {
		b := setup(t, f)
		fl := flows(b)
		deep := node("leaf", "")
		for i := 0; i < backend.MaxFlowDepth+1; i++ {
			deep = node(fmt.Sprint("n", i), "", deep)
		}
		wide := node("root", "")
		for i := 0; i < backend.MaxFlowNodes; i++ {
			wide.Children = append(wide.Children, node("c", ""))
		}
		dup := node("root", "", node("x", ""), node("y", ""))
		dup.Children[0].Job.ID, dup.Children[1].Job.ID = "same", "same"
		bad := node("root", "", node("x", "nope"))
		dedup := node("root", "", node("x", ""))
		dedup.Children[0].Job.Dedup = &backend.Dedup{ID: "d", TTL: 1e9}
		for name, root := range map[string]backend.FlowNode{"deep": deep, "wide": wide, "dup": dup, "policy": bad, "dedup": dedup} {
			_, err := fl.FlowAdd(b.ctx, &backend.FlowAddParams{Queue: b.queue, Root: root})
			require.ErrorIs(t, err, backend.ErrInvalidFlow, name)
		}
		existing := b.add("existing", backend.JobOptions{})
		clash := node("root", "", node("x", ""))
		clash.Children[0].Job.ID = existing
		_, err := fl.FlowAdd(b.ctx, &backend.FlowAddParams{Queue: b.queue, Root: clash})
		require.ErrorIs(t, err, backend.ErrInvalidFlow)
		c := b.counts()
		require.Equal(t, backend.Counts{Waiting: 1}, c, "only the plain job is stored")
		// a tree at the depth limit is accepted.
		ok := node("leaf", "")
		for i := 0; i < backend.MaxFlowDepth; i++ {
			ok = node(fmt.Sprint("n", i), "", ok)
		}
		require.Len(t, addFlow(b, fl, ok), backend.MaxFlowDepth+1)
	})
}

// runAll claims and completes (returning the job's name) every ready job,
// and returns the names in claim order.
func (b *bundle) runAll() []string {
	b.t.Helper()
	var names []string
	for {
		j, tok := b.claim()
		if j == nil {
			return names
		}
		names = append(names, j.Name)
		_, err := b.be.JobComplete(b.ctx, &backend.JobCompleteParams{Queue: b.queue, ID: j.ID, Token: tok, ReturnValue: []byte(`"` + j.Name + `"`), Retention: j.Options.RemoveOnComplete})
		require.NoError(b.t, err)
	}
}
