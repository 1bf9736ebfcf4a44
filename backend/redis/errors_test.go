package redisbackend

import (
	"errors"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fila-go/fila/backend"
)

func TestClassify(t *testing.T) {
	permanent := []string{
		"WRONGPASS invalid username-password pair or user is disabled.",
		"NOAUTH Authentication required.",
		"NOPERM User app has no permissions to run the 'evalsha' command",
		"NOSCRIPT No matching script. Please use EVAL.",
		"ERR unknown command 'BLMOVE', with args beginning with: 'fila:{q}:wait' ",
		"ERR Error running script (call to f_1): @user_script:12: @user_script: 12: Unknown Redis command called from Lua script",
		"ERR invalid password",
	}
	for _, msg := range permanent {
		err := classify(serverError(msg))
		require.True(t, backend.IsPermanent(err), msg)
		require.ErrorIs(t, err, backend.ErrPermanent, msg)
		require.Contains(t, err.Error(), msg)
		var re redis.Error
		require.True(t, errors.As(err, &re), "still a go-redis error: %s", msg)
	}
	transient := []error{
		serverError("LOADING Redis is loading the dataset in memory"),
		serverError("BUSY Redis is busy running a script."),
		serverError("READONLY You can't write against a read only replica."),
		serverError("TRYAGAIN Multiple keys request during rehashing of slot"),
		fmt.Errorf("dial tcp 127.0.0.1:6379: connect: connection refused"),
		redis.ErrPoolTimeout,
	}
	for _, err := range transient {
		require.False(t, backend.IsPermanent(classify(err)), err.Error())
	}
	require.NoError(t, classify(nil))
}

// serverError is a Redis error reply as go-redis returns it (its own type
// is internal).
type serverError string

func (e serverError) Error() string { return string(e) }

func (serverError) RedisError() {}
