package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// "fila help <typo>" is a usage error like "fila <typo>": it names the
// unknown command and exits 2, instead of printing the general help and
// exiting 0 as if the command had been understood.
func TestHelpOfAnUnknownCommandIsAUsageError(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"help", "lsit"}, &out, &errOut, noEnv, unreachable(t))
	require.Equal(t, exitUsage, code, "stdout: %q", out.String())
	require.True(t, strings.HasPrefix(errOut.String(), `fila: unknown command "lsit"`), "got %q", errOut.String())
}
