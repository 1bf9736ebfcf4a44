// Command fila inspects and operates fila queues stored in Redis or on
// Upstash (over its REST API), the way
// asynq's CLI is used: counts and throughput per queue, job listings and
// details, and the operator's fixes (retry, promote, remove, clean, pause,
// resume, drain, obliterate).
//
//	fila [-redis URL] [-prefix fila] [-job-buckets N] [-hash-tags q=tag,...] [-global-lock] [-json] [-timeout 30s] <command> [arguments]
//
//	fila stats                          # every queue: counts, paused, throughput
//	fila list outbound failed -limit 20 # a page of failed jobs
//	fila show outbound 42               # one job with its options and logs
//	fila retry outbound -all-failed     # put every failed job back to waiting
//
// The Redis URL comes from -redis, else $FILA_REDIS_URL, else Upstash when
// $UPSTASH_REDIS_REST_URL and $UPSTASH_REDIS_REST_TOKEN are both set, else
// redis://127.0.0.1:6379. An https:// URL is an Upstash REST endpoint whose
// token comes from $UPSTASH_REDIS_REST_TOKEN (see target.go); the token is
// never printed. rediss:// URLs connect with TLS,
// redis+cluster://host:port,host:port to a Cluster, and
// redis+sentinel://host:port,host:port/master through Sentinel (see
// redisurl.go for every form). The client sets MaxRetries -1 unless the URL
// sets max_retries, as the Redis backend asks. -job-buckets must match the
// application's redisbackend.WithJobBuckets (default 1 over Redis, 32 over
// Upstash); a mismatch fails naming the count to pass. -hash-tags must
// name the tags of the application's redisbackend.WithHashTag (queues
// without one keep their own slot), and -global-lock mirrors
// upstash.Config.GlobalLock, which changing a flow across queues needs
// over Upstash (docs/flows.md). Output is
// aligned tables for people, or JSON with -json. Errors go to stderr with a
// non-zero exit status: 1 when an operation failed, 2 for a usage error.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

func main() {
	// go-redis logs dial failures on its own; the command reports them once.
	redis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv, openStore)
	stop()
	os.Exit(code)
}

// quietLogger drops go-redis's internal logs.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
