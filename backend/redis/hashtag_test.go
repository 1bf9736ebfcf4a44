package redisbackend

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// hashTag follows Redis' rule (the Cluster specification's examples).
func TestHashTag(t *testing.T) {
	for key, want := range map[string]string{
		"{user1000}.following": "user1000",
		"foo{}{bar}":           "foo{}{bar}", // an empty tag: the whole key
		"foo{{bar}}zap":        "{bar",
		"foo{bar}{zap}":        "bar",
		"plain":                "plain",
		"fila:{media}:wait":    "media",
	} {
		require.Equal(t, want, hashTag(key), key)
	}
	require.Equal(t, "m", hashTag(queueKeys("fila", "media", "m", 1)[0]))
	require.Equal(t, "media", hashTag(queueKeys("fila", "media", "", 1)[0]))
}
