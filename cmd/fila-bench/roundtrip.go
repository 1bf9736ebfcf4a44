package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// emptyScript is the script of the round-trip limit: it runs no command,
// so a call costs only what every script call costs (the round trip, the
// request and reply, Redis' setup of a script call).
const emptyScript = ""

// roundTripLimit measures sequential EVALSHA calls of an empty script per
// second from one go-redis client: the most one-at-a-time script calls,
// such as sequential adds, can reach on this server and machine. It
// returns each run's rate.
func roundTripLimit(ctx context.Context, addr string, n, runs int) ([]float64, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	sha, err := c.ScriptLoad(ctx, emptyScript).Result()
	if err != nil {
		return nil, fmt.Errorf("round-trip limit: script load: %w", err)
	}
	call := func() error {
		if err := c.EvalSha(ctx, sha, nil).Err(); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("round-trip limit: evalsha: %w", err)
		}
		return nil
	}
	if err := call(); err != nil { // warm: dial the connection
		return nil, err
	}
	var rates []float64
	for range runs {
		t0 := time.Now()
		for range n {
			if err := call(); err != nil {
				return nil, err
			}
		}
		rates = append(rates, float64(n)/time.Since(t0).Seconds())
	}
	return rates, nil
}
