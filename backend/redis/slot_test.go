package redisbackend

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// keySlot follows Redis' rule: CRC16/XMODEM of the hash tag (or of the key
// without one) modulo 16384. Values from the Redis Cluster specification
// and CLUSTER KEYSLOT.
func TestKeySlot(t *testing.T) {
	require.Equal(t, 0x31C3, keySlot("123456789"), "the CRC16/XMODEM check value")
	require.Equal(t, 12182, keySlot("foo"))
	require.Equal(t, 11058, keySlot("somekey"))
	require.Equal(t, keySlot("user1000"), keySlot("{user1000}.following"))
	require.Equal(t, keySlot("{}x"), keySlot("{}x"), "an empty tag hashes the whole key")
	require.NotEqual(t, keySlot("{}a"), keySlot("{}b"))
	require.Equal(t, keySlot("fila:{m}:media:wait"), keySlot("fila:{m}:scan:meta"))
	require.Equal(t, keySlot("m"), keySlot(queueKeys("fila", "media", "m", 1)[0]))
	require.Equal(t, keySlot("media"), keySlot(queueKeys("fila", "media", "", 1)[0]))
}
