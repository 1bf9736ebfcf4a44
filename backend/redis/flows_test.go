package redisbackend

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
	"github.com/fila-go/fila/internal/redistest"
)

// flowServers are the servers the flow storage tests run on: miniredis
// (gopher-lua, scripts by EVALSHA) and redis-server (Redis' Lua, scripts
// as a function library).
func flowServers(t *testing.T) map[string]func(t *testing.T) (*Backend, *redis.Client) {
	return map[string]func(t *testing.T) (*Backend, *redis.Client){
		"miniredis": miniBackend,
		"redis-server": func(t *testing.T) (*Backend, *redis.Client) {
			rdb := redis.NewClient(&redis.Options{Addr: redistest.Start(t).Addr})
			be := New(rdb)
			t.Cleanup(func() { be.Close(); rdb.Close() })
			return be, rdb
		},
	}
}

// runFlowJobs claims and completes every ready job of q, each returning
// value(name), and returns how many ran.
func runFlowJobs(t *testing.T, be *Backend, q string, value func(name string) []byte) int {
	ctx := context.Background()
	n := 0
	for {
		c, err := be.JobClaim(ctx, &backend.JobClaimParams{Queue: q, Token: "t", LockDuration: 60e9})
		require.NoError(t, err)
		if c.Job == nil {
			return n
		}
		n++
		_, err = be.JobComplete(ctx, &backend.JobCompleteParams{Queue: q, ID: c.Job.ID, Token: "t",
			ReturnValue: value(c.Job.Name), Retention: c.Job.Options.RemoveOnComplete})
		require.NoError(t, err)
	}
}

// A tree whose jobs are all removed on completion leaves no field and no
// waiting-children entry behind, and a parent removed with its children
// leaves none either: a flow's storage is bounded by its jobs' retention.
func TestFlowLeavesNoFields(t *testing.T) {
	for name, server := range flowServers(t) {
		t.Run(name, func(t *testing.T) {
			be, rdb := server(t)
			ctx := context.Background()
			gone := backend.JobOptions{RemoveOnComplete: backend.Retention{Remove: true}}
			leaf := func(name string) backend.FlowNode {
				return backend.FlowNode{Job: backend.JobAddItem{Name: name, Data: []byte("{}"), Options: gone}}
			}
			tree := backend.FlowNode{Job: backend.JobAddItem{Name: "root", Data: []byte("{}"), Options: gone}, Children: []backend.FlowNode{
				leaf("a"), {Job: backend.JobAddItem{Name: "mid", Data: []byte("{}"), Options: gone}, Children: []backend.FlowNode{leaf("b")}},
			}}
			_, err := be.FlowAdd(ctx, &backend.FlowAddParams{Queue: "q", Root: tree})
			require.NoError(t, err)
			require.Equal(t, 4, runFlowJobs(t, be, "q", func(string) []byte { return []byte(`1`) }))
			require.Empty(t, rdb.HKeys(ctx, "fila:{q}:jobs").Val())
			require.Zero(t, rdb.ZCard(ctx, "fila:{q}:dedup").Val())

			_, err = be.FlowAdd(ctx, &backend.FlowAddParams{Queue: "q", Root: tree})
			require.NoError(t, err)
			roots, err := be.JobList(ctx, &backend.JobListParams{Queue: "q", State: backend.StateWaitingChildren, Limit: 10})
			require.NoError(t, err)
			require.Len(t, roots, 2)
			require.Equal(t, "root", roots[0].Name, "oldest first")
			require.NoError(t, be.JobRemove(ctx, &backend.JobRemoveParams{Queue: "q", ID: roots[0].ID}))
			require.Empty(t, rdb.HKeys(ctx, "fila:{q}:jobs").Val())
			require.Zero(t, rdb.ZCard(ctx, "fila:{q}:dedup").Val())
			c, err := be.QueueCounts(ctx, &backend.QueueParams{Queue: "q"})
			require.NoError(t, err)
			require.Equal(t, backend.Counts{}, *c)
		})
	}
}

// A child's value reaches its parent byte for byte, whatever bytes it
// holds (the separators of lib_flows.lua's parent data among them), and a
// grouped child keeps its group next to its link.
func TestFlowValuesAreBinarySafe(t *testing.T) {
	odd := []byte("\x00\x02\x03\x04V1:x2:yy\x02\x04 9 9 ")
	for name, server := range flowServers(t) {
		t.Run(name, func(t *testing.T) {
			be, _ := server(t)
			ctx := context.Background()
			kid := func(name, group string) backend.FlowNode {
				return backend.FlowNode{Job: backend.JobAddItem{Name: name, Data: []byte("{}"), Options: backend.JobOptions{Group: group}}}
			}
			res, err := be.FlowAdd(ctx, &backend.FlowAddParams{Queue: "q", Root: backend.FlowNode{
				Job: backend.JobAddItem{Name: "p", Data: []byte("{}")}, Children: []backend.FlowNode{kid("odd", ""), kid("empty", "g1")},
			}})
			require.NoError(t, err)
			j, err := be.JobGet(ctx, &backend.JobGetParams{Queue: "q", ID: res[2].ID})
			require.NoError(t, err)
			require.Equal(t, "g1", j.Options.Group)
			ran := runFlowJobs(t, be, "q", func(name string) []byte {
				if name == "odd" {
					return odd
				}
				return nil
			})
			require.Equal(t, 3, ran)
			c, err := be.FlowChildren(ctx, &backend.JobGetParams{Queue: "q", ID: res[0].ID})
			require.NoError(t, err)
			require.Equal(t, odd, c.Values[res[1].ID])
			require.Contains(t, c.Values, res[2].ID)
			require.Empty(t, c.Values[res[2].ID])
			require.Equal(t, 2, c.Total)
			require.Zero(t, c.Pending)
		})
	}
}

func TestDecodeFlowEntries(t *testing.T) {
	out := &backend.FlowChildren{Values: map[string][]byte{}, Failed: map[string]string{}}
	require.NoError(t, decodeFlowEntries("V1:a3:x\x04yX2:bc4:boom", out))
	require.Equal(t, map[string][]byte{"a": []byte("x\x04y")}, out.Values)
	require.Equal(t, map[string]string{"bc": "boom"}, out.Failed)
	for _, bad := range []string{"V", "V1:a", "V1:a9:x", "Q1:a1:x", "V:a1:x", "V99999999999999999999:a"} {
		require.Error(t, decodeFlowEntries(bad, &backend.FlowChildren{Values: map[string][]byte{}, Failed: map[string]string{}}), bad)
	}
}
