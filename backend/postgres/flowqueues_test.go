package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/backend/postgres"
	"github.com/fila-go/fila/internal/pgtest"
)

// openOn returns a backend on the database at url, migrated, closed at the
// end: several of them stand for several processes.
func openOn(t *testing.T, url string, o postgres.Options) *postgres.Backend {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url+"&pool_max_conns=20")
	require.NoError(t, err)
	be := postgres.New(pool, o)
	_, err = be.Migrate(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { be.Close(); pool.Close() })
	return be
}

func leaf(queue, name string, p backend.ChildPolicy) backend.FlowNode {
	return backend.FlowNode{Queue: queue, OnFailure: p, Job: backend.JobAddItem{Name: name, Options: backend.JobOptions{Attempts: 1}}}
}

// TestAParentMadeReadyInAnotherQueueWakesItsWorkers: whatever call
// releases a parent from a child in another queue (a grouped one, so
// GroupDrain can remove it too), a claim blocked on the parent's queue in
// another process wakes at once (its FallbackRecheck is a minute, longer
// than its Wait: only the notification can wake it).
func TestAParentMadeReadyInAnotherQueueWakesItsWorkers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.DB(t)
	worker := openOn(t, url, postgres.Options{FallbackRecheck: time.Minute})
	other := openOn(t, url, postgres.Options{FallbackRecheck: time.Minute})

	claim := func(t *testing.T, queue string) *backend.Job {
		t.Helper()
		res, err := other.JobClaim(ctx, &backend.JobClaimParams{Queue: queue, Token: "c-" + queue, LockDuration: time.Minute})
		require.NoError(t, err)
		require.NotNil(t, res.Job)
		return res.Job
	}
	for _, tc := range []struct {
		name   string
		policy backend.ChildPolicy
		act    func(t *testing.T, queue, id string)
	}{
		{"completed", "", func(t *testing.T, queue, id string) {
			j := claim(t, queue)
			_, err := other.JobComplete(ctx, &backend.JobCompleteParams{Queue: queue, ID: j.ID, Token: "c-" + queue, ReturnValue: []byte(`1`)})
			require.NoError(t, err)
		}},
		{"completed in the handler's transaction", "", func(t *testing.T, queue, id string) {
			claim(t, queue)
			tx, err := other.Pool().Begin(ctx)
			require.NoError(t, err)
			require.NoError(t, other.CompleteTx(ctx, tx, queue, id, []byte(`1`)))
			require.NoError(t, tx.Commit(ctx))
		}},
		{"failed, ignored", backend.ChildIgnore, func(t *testing.T, queue, id string) {
			j := claim(t, queue)
			_, err := other.JobFail(ctx, &backend.JobFailParams{Queue: queue, ID: j.ID, Token: "c-" + queue, Reason: "boom"})
			require.NoError(t, err)
		}},
		{"cancelled, ignored", backend.ChildIgnore, func(t *testing.T, queue, id string) {
			_, err := other.JobCancel(ctx, &backend.JobCancelParams{Queue: queue, ID: id})
			require.NoError(t, err)
		}},
		{"stalled, ignored", backend.ChildIgnore, func(t *testing.T, queue, id string) {
			res, err := other.JobClaim(ctx, &backend.JobClaimParams{Queue: queue, Token: "lost", LockDuration: 50 * time.Millisecond})
			require.NoError(t, err)
			require.NotNil(t, res.Job)
			time.Sleep(200 * time.Millisecond)
			for range 2 {
				_, err := other.StalledCheck(ctx, &backend.StalledCheckParams{Queue: queue})
				require.NoError(t, err)
			}
		}},
		{"removed", "", func(t *testing.T, queue, id string) {
			require.NoError(t, other.JobRemove(ctx, &backend.JobRemoveParams{Queue: queue, ID: id}))
		}},
		{"drained", "", func(t *testing.T, queue, id string) {
			n, err := other.QueueDrain(ctx, &backend.QueueDrainParams{Queue: queue})
			require.NoError(t, err)
			require.Equal(t, 1, n)
		}},
		{"cleaned", "", func(t *testing.T, queue, id string) {
			ids, err := other.QueueClean(ctx, &backend.QueueCleanParams{Queue: queue, State: backend.StateWaiting})
			require.NoError(t, err)
			require.Equal(t, []string{id}, ids)
		}},
		{"drained from its group", "", func(t *testing.T, queue, id string) {
			n, err := other.GroupDrain(ctx, &backend.GroupParams{Queue: queue, Group: "g"})
			require.NoError(t, err)
			require.Equal(t, 1, n)
		}},
		{"obliterated", "", func(t *testing.T, queue, id string) {
			require.NoError(t, other.QueueObliterate(ctx, &backend.QueueObliterateParams{Queue: queue}))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parentQ, childQ := "parent-"+tc.name, "child-"+tc.name
			child := leaf(childQ, "child", tc.policy)
			child.Job.Options.Group = "g"
			res, err := other.FlowAdd(ctx, &backend.FlowAddParams{Queue: parentQ, Root: backend.FlowNode{
				Job: backend.JobAddItem{Name: "parent", Options: backend.JobOptions{Attempts: 1}}, Children: []backend.FlowNode{child},
			}})
			require.NoError(t, err)
			got := make(chan *backend.Job, 1)
			go func() {
				res, err := worker.JobClaim(ctx, &backend.JobClaimParams{Queue: parentQ, Token: "w", LockDuration: time.Minute, Wait: 30 * time.Second})
				if err != nil {
					got <- nil
					return
				}
				got <- res.Job
			}()
			time.Sleep(300 * time.Millisecond) // the claim found nothing and waits
			tc.act(t, childQ, res[1].ID)
			select {
			case j := <-got:
				require.NotNil(t, j)
				require.Equal(t, res[0].ID, j.ID)
			case <-time.After(10 * time.Second):
				t.Fatal("the parent's queue was not woken")
			}
		})
	}
}

// TestRemovingAParentKeepsItsChildsGroupMoving: a grouped child in another
// queue that held its group's place in the line, removed with its parent,
// gives the place to its group's next job.
func TestRemovingAParentKeepsItsChildsGroupMoving(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	be := open(t, postgres.Options{})
	child := leaf("grouped", "child", "")
	child.Job.Options.Group = "g"
	res, err := be.FlowAdd(ctx, &backend.FlowAddParams{Queue: "parents", Root: backend.FlowNode{
		Job: backend.JobAddItem{Name: "parent", Options: backend.JobOptions{Attempts: 1}}, Children: []backend.FlowNode{child},
	}})
	require.NoError(t, err)
	next, err := be.JobAdd(ctx, &backend.JobAddParams{Queue: "grouped", Jobs: []backend.JobAddItem{{Name: "next", Options: backend.JobOptions{Attempts: 1, Group: "g"}}}})
	require.NoError(t, err)

	require.NoError(t, be.JobRemove(ctx, &backend.JobRemoveParams{Queue: "parents", ID: res[0].ID}))
	_, err = be.JobGet(ctx, &backend.JobGetParams{Queue: "grouped", ID: res[1].ID})
	require.ErrorIs(t, err, backend.ErrJobNotFound)
	c, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "grouped", Token: "t", LockDuration: time.Minute})
	require.NoError(t, err)
	require.NotNil(t, c.Job, "the group's next job took its place in the line")
	require.Equal(t, next[0].ID, c.Job.ID)
}

// TestFlowsAcrossQueuesUnderConcurrentWorkers runs trees whose jobs are in
// two queues through workers of both queues at once, while some parents
// are removed: no call fails (parents and children lock in one order, so
// no transaction deadlocks past its retries), every parent that was not
// removed runs once, after its children, and sees all their values.
func TestFlowsAcrossQueuesUnderConcurrentWorkers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	be := open(t, postgres.Options{})
	const trees, workers = 40, 4
	queues := []string{"left", "right"}
	var parents []backend.JobAddResult
	for i := range trees {
		root := backend.FlowNode{Job: backend.JobAddItem{Name: fmt.Sprintf("p%d", i), Options: backend.JobOptions{Attempts: 1}}}
		for k := range 4 {
			root.Children = append(root.Children, leaf(queues[(i+k)%2], fmt.Sprintf("p%d-c%d", i, k), ""))
		}
		res, err := be.FlowAdd(ctx, &backend.FlowAddParams{Queue: queues[i%2], Root: root})
		require.NoError(t, err)
		parents = append(parents, res[0])
	}

	var (
		mu   sync.Mutex
		ran  = map[string]int{}
		errs []error
		wg   sync.WaitGroup
	)
	// settled: no job of either queue is left to run.
	settled := func() (bool, error) {
		for _, q := range queues {
			c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: q})
			if err != nil || c.Waiting+c.Active+c.WaitingChildren+c.Delayed > 0 {
				return false, err
			}
		}
		return true, nil
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, q := range queues {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; time.Now().Before(deadline); n++ {
					tok := fmt.Sprintf("%s-%d-%d", q, w, n)
					res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: q, Token: tok, LockDuration: time.Minute, Wait: 200 * time.Millisecond})
					if err == nil && res.Job == nil {
						var done bool
						if done, err = settled(); done {
							return
						}
					}
					if err == nil && res.Job != nil {
						_, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: q, ID: res.Job.ID, Token: tok, ReturnValue: []byte(`"` + res.Job.Name + `"`)})
						mu.Lock()
						ran[res.Job.Name]++
						mu.Unlock()
					}
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						return
					}
				}
			}()
		}
	}
	removed := map[string]bool{}
	for i := 0; i < trees; i += 5 {
		err := be.JobRemove(ctx, &backend.JobRemoveParams{Queue: queues[i%2], ID: parents[i].ID})
		if err == nil {
			removed[fmt.Sprintf("p%d", i)] = true // before it ran, or after
		} else {
			require.ErrorIs(t, err, backend.ErrJobActive, "only a parent running now is kept")
		}
	}
	wg.Wait()
	require.Empty(t, errs)
	for i, p := range parents {
		name := fmt.Sprintf("p%d", i)
		if removed[name] {
			require.LessOrEqual(t, ran[name], 1, name)
			continue
		}
		require.Equal(t, 1, ran[name], name)
		c, err := be.FlowChildren(ctx, &backend.JobGetParams{Queue: queues[i%2], ID: p.ID})
		require.NoError(t, err)
		require.Len(t, c.Values, 4, name)
		for key, v := range c.Values {
			require.True(t, strings.HasPrefix(string(v), `"`+name+"-c"), "%s: %s", key, v)
		}
	}
	for _, q := range queues {
		c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: q})
		require.NoError(t, err)
		require.Zero(t, c.Waiting+c.Active+c.WaitingChildren+c.Delayed+c.Failed, "%s: %+v", q, c)
	}
}

// TestMigration4KeepsTheFlowsOfVersion3: links written by schema version 3
// (no parent queue: the child's own) still release, fail and remove their
// parents once the schema is migrated.
func TestMigration4KeepsTheFlowsOfVersion3(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.DB(t)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	const schema = "v3"
	_, err = conn.Exec(ctx, `CREATE SCHEMA v3; CREATE TABLE v3.schema_version (version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
	require.NoError(t, err)
	for v, name := range []string{"001_init.sql", "002_finished_counts.sql", "003_cancel_schedulers_groups_flows.sql"} {
		sql, err := os.ReadFile("migrations/" + name)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, strings.ReplaceAll(string(sql), "{{schema}}", pgx.Identifier{schema}.Sanitize()))
		require.NoError(t, err, name)
		_, err = conn.Exec(ctx, `INSERT INTO v3.schema_version (version) VALUES ($1)`, v+1)
		require.NoError(t, err)
	}
	// Two trees as version 3 stored them: p with children a and b, r with
	// child x; a completes under version 3.
	_, err = conn.Exec(ctx, `
		INSERT INTO v3.queues (name, listed) VALUES ('q', true);
		INSERT INTO v3.jobs (queue, id, name, options, state, ord, added_at, flow_kids) VALUES
			('q', 'p', 'p', '{"Attempts":1}', 'waiting-children', nextval('v3.job_ord'), clock_timestamp(), 2),
			('q', 'r', 'r', '{"Attempts":1}', 'waiting-children', nextval('v3.job_ord'), clock_timestamp(), 1);
		INSERT INTO v3.jobs (queue, id, name, options, state, ord, added_at, flow_parent) VALUES
			('q', 'a', 'a', '{"Attempts":1}', 'waiting', nextval('v3.job_ord'), clock_timestamp(), 'p'),
			('q', 'b', 'b', '{"Attempts":1}', 'waiting', nextval('v3.job_ord'), clock_timestamp(), 'p'),
			('q', 'x', 'x', '{"Attempts":1}', 'waiting', nextval('v3.job_ord'), clock_timestamp(), 'r');
		INSERT INTO v3.flow_links (queue, child, parent, policy) VALUES ('q', 'a', 'p', ''), ('q', 'b', 'p', ''), ('q', 'x', 'r', '');
		UPDATE v3.jobs SET state = 'completed', return_value = '"a"', finished_at = clock_timestamp() WHERE queue = 'q' AND id = 'a'`)
	require.NoError(t, err)

	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	defer pool.Close()
	be := postgres.New(pool, postgres.Options{Schema: schema})
	defer be.Close()
	require.ErrorIs(t, be.Check(ctx), postgres.ErrNotMigrated)
	applied, err := be.Migrate(ctx)
	require.NoError(t, err)
	require.Equal(t, []int{4, 5}, applied)
	require.NoError(t, be.Check(ctx))
	c, err := be.FlowChildren(ctx, &backend.JobGetParams{Queue: "q", ID: "p"})
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"a": []byte(`"a"`)}, c.Values)
	require.Equal(t, 1, c.Pending)

	res, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "q", Token: "t", LockDuration: time.Minute})
	require.NoError(t, err)
	require.Equal(t, "b", res.Job.ID)
	_, err = be.JobFail(ctx, &backend.JobFailParams{Queue: "q", ID: "b", Token: "t", Reason: "boom"})
	require.NoError(t, err)
	p := getJob(t, be, "q", "p")
	require.Equal(t, backend.StateFailed, p.State)
	require.Equal(t, "child b failed: boom", p.FailedReason, "a child of the parent's queue is named by its ID")

	require.NoError(t, be.JobRemove(ctx, &backend.JobRemoveParams{Queue: "q", ID: "r"}))
	_, err = be.JobGet(ctx, &backend.JobGetParams{Queue: "q", ID: "x"})
	require.ErrorIs(t, err, backend.ErrJobNotFound, "removing r removed its child")
}

// TestARemovedParentAndItsFinishingChildDoNotDeadlock: a parent's removal
// holds the parent while its child in another queue finishes or is
// removed (the child's outcome waits for the parent); when the removal
// then takes the links, it must not wait for the child in turn. The
// child's side locks the parent before the child's link, so neither waits
// for the other crosswise.
func TestARemovedParentAndItsFinishingChildDoNotDeadlock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		finish func(ctx context.Context, be *postgres.Backend, tx pgx.Tx, child string) error
		want   backend.State // the child's state after; "" for removed
	}{
		{"completed", func(ctx context.Context, be *postgres.Backend, tx pgx.Tx, child string) error {
			return be.CompleteTx(ctx, tx, "children", child, []byte(`1`))
		}, backend.StateCompleted},
		{"removed", func(ctx context.Context, be *postgres.Backend, tx pgx.Tx, child string) error {
			_, err := tx.Exec(ctx, `DELETE FROM fila.jobs WHERE queue = 'children' AND id = $1`, child) // as JobRemove does
			return err
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			be := open(t, postgres.Options{})
			res, err := be.FlowAdd(ctx, &backend.FlowAddParams{Queue: "parents", Root: backend.FlowNode{
				Job: backend.JobAddItem{Name: "parent", Options: backend.JobOptions{Attempts: 1}}, Children: []backend.FlowNode{leaf("children", "child", "")},
			}})
			require.NoError(t, err)
			parent, child := res[0].ID, res[1].ID
			if tc.want == backend.StateCompleted {
				c, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: "children", Token: "t", LockDuration: time.Minute})
				require.NoError(t, err)
				require.Equal(t, child, c.Job.ID)
			}

			// Both transactions hold their connection before the race (a
			// new connection can wait on another test's DROP DATABASE).
			finish, err := be.Pool().Begin(ctx)
			require.NoError(t, err)
			defer finish.Rollback(ctx)
			// The removal, step by step as JobRemove takes it: the parent's
			// row first.
			remove, err := be.Pool().Begin(ctx)
			require.NoError(t, err)
			defer remove.Rollback(ctx)
			_, err = remove.Exec(ctx, `SELECT 1 FROM fila.jobs WHERE queue = 'parents' AND id = $1 FOR UPDATE`, parent)
			require.NoError(t, err)

			done, exited := make(chan error, 1), make(chan struct{})
			go func() {
				defer close(exited)
				err := tc.finish(ctx, be, finish, child)
				if err == nil {
					err = finish.Commit(ctx)
				}
				done <- err
			}()
			defer func() { // on a failure: free the child's side before finish's rollback
				remove.Rollback(ctx)
				<-exited
			}()
			require.Eventually(t, func() bool { // the child's side waits for the parent
				var n int
				err := remove.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
				return err == nil && n == 1
			}, 10*time.Second, 20*time.Millisecond)

			_, err = remove.Exec(ctx, `DELETE FROM fila.jobs WHERE queue = 'parents' AND id = $1`, parent)
			require.NoError(t, err, "the removal waited for the child's link and deadlocked")
			require.NoError(t, remove.Commit(ctx))
			require.NoError(t, <-done)
			_, err = be.JobGet(ctx, &backend.JobGetParams{Queue: "parents", ID: parent})
			require.ErrorIs(t, err, backend.ErrJobNotFound)
			j, err := be.JobGet(ctx, &backend.JobGetParams{Queue: "children", ID: child})
			if tc.want == "" {
				require.ErrorIs(t, err, backend.ErrJobNotFound)
			} else {
				require.NoError(t, err)
				require.Equal(t, tc.want, j.State, "an active child is left to finish")
			}
		})
	}
}

// TestWorkersRunAFlowAcrossQueues runs fila's own API and Worker on two
// Backends (two processes): AddFlow with children in another queue, whose
// worker is in the other process; the parent's handler reads every
// child's value, the far ones named "<queue>:<id>".
func TestWorkersRunAFlowAcrossQueues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.DB(t)
	replies := openOn(t, url, postgres.Options{})
	media := openOn(t, url, postgres.Options{})
	got := make(chan map[string]json.RawMessage, 1)
	runWorker(t, replies, "replies", func(ctx context.Context, j *fila.Job) (any, error) {
		if j.Name != "reply" {
			return j.Name, nil
		}
		v, err := j.ChildrenValues(ctx)
		if err == nil {
			got <- v
		}
		return nil, err
	}, fila.WorkerOptions{Concurrency: 2})
	runWorker(t, media, "media", func(ctx context.Context, j *fila.Job) (any, error) {
		return j.Name, nil
	}, fila.WorkerOptions{Concurrency: 2})

	jobs, err := fila.NewQueue(replies, "replies").AddFlow(ctx, fila.FlowJob{Name: "reply", Children: []fila.FlowJob{
		{Queue: "media", Name: "download"}, {Queue: "media", Name: "scan"}, {Name: "format"},
	}})
	require.NoError(t, err)
	select {
	case v := <-got:
		require.Equal(t, map[string]json.RawMessage{
			"media:" + jobs[1].ID: json.RawMessage(`"download"`),
			"media:" + jobs[2].ID: json.RawMessage(`"scan"`),
			jobs[3].ID:            json.RawMessage(`"format"`),
		}, v)
	case <-time.After(30 * time.Second):
		t.Fatal("the parent did not run")
	}
}
