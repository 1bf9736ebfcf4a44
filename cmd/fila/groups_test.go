package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila"
)

func TestGroupsCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	q := fila.NewQueue(f.be, "chats")
	for _, g := range []string{"+15550001", "+15550001", "+15550001", "+15550002"} {
		f.add(q, "reply", `{}`, &fila.JobOptions{Group: g})
	}
	require.NoError(t, q.PauseGroup(f.ctx, "+15550002"))

	out := f.ok("groups", "chats")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	require.Regexp(t, `^GROUP\s+WAITING\s+ACTIVE\s+LIMITED FOR\s+PAUSED$`, lines[0])
	require.Regexp(t, `^\+15550001\s+3\s+0\s+-\s+-$`, lines[1], "the busiest group first")
	require.Regexp(t, `^\+15550002\s+1\s+0\s+-\s+yes$`, lines[2])

	var all struct {
		Queue  string           `json:"queue"`
		Groups []fila.GroupInfo `json:"groups"`
	}
	require.NoError(t, json.Unmarshal([]byte(f.ok("-json", "groups", "chats", "-limit", "1")), &all))
	require.Equal(t, "chats", all.Queue)
	require.Equal(t, []fila.GroupInfo{{Group: "+15550001", GroupCounts: fila.GroupCounts{Waiting: 3}}}, all.Groups)

	one := f.ok("groups", "chats", "+15550001", "-limit", "2")
	require.Contains(t, one, "ID")
	require.Equal(t, 2, strings.Count(one, "reply"), one)

	_, errOut, code := f.fila("groups", "nosuchqueue")
	require.Equal(t, exitFail, code, errOut)
}
