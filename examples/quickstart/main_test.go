package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestRunCompletesTheJobAndStopsTheWorker(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	require.Equal(t, "job welcome:ada completed: sent to ada@example.com\n", out.String())
}

func TestRunReportsAContextThatEndedInsteadOfHanging(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()

	var out bytes.Buffer
	err := run(ctx, &out)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Empty(t, out.String())
}

// TestReadmeShowsRun keeps the README's quick start true: it shows run as
// this file has it, character for character.
func TestReadmeShowsRun(t *testing.T) {
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	i := bytes.Index(src, []byte("func run("))
	require.GreaterOrEqual(t, i, 0, "main.go has no func run")
	require.Contains(t, string(readme), "```go\n"+string(src[i:])+"```\n",
		"README.md's quick start differs from examples/quickstart/main.go's run: paste it again")
}
