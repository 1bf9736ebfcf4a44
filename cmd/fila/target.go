package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/fila-go/fila/backend/upstash"
)

// envRedisURL names the variable read when -redis is not given.
const envRedisURL = "FILA_REDIS_URL"

// resolveTarget picks the storage of an invocation: the -redis URL, else
// $FILA_REDIS_URL, else Upstash's REST endpoint when both
// $UPSTASH_REDIS_REST_URL and $UPSTASH_REDIS_REST_TOKEN are set, else
// defaultRedisURL. A -redis or $FILA_REDIS_URL that is an http(s) URL is an
// Upstash REST endpoint whose token comes from $UPSTASH_REDIS_REST_TOKEN:
// a token is never part of a command line.
//
// -hash-tags is for Redis and Upstash, -global-lock for Upstash only: given
// for another target, they fail instead of being ignored.
func resolveTarget(o *options, getenv func(string) string) (storeTarget, error) {
	t, err := resolveStore(o, getenv)
	switch {
	case err != nil:
	case t.postgres != "" && o.hashTags != "":
		err = fmt.Errorf("fila: -hash-tags is for Redis and Upstash; PostgreSQL has no hash tags")
	case o.globalLock && !t.upstash():
		err = fmt.Errorf("fila: -global-lock is for Upstash's REST endpoint, whose scripts run under key locking; Redis needs none")
	}
	return t, err
}

func resolveStore(o *options, getenv func(string) string) (storeTarget, error) {
	t := storeTarget{prefix: o.prefix, jobBuckets: o.jobBuckets, schema: o.schema, globalLock: o.globalLock}
	tags, err := parseHashTags(o.hashTags)
	if err != nil {
		return t, fmt.Errorf("fila: %w", err)
	}
	t.hashTag = tags
	if o.postgresURL != "" && o.redisURL != "" {
		return t, fmt.Errorf("fila: give -redis or -postgres, not both")
	}
	pg := o.postgresURL
	if pg == "" && o.redisURL == "" {
		pg = strings.TrimSpace(getenv(envPostgresURL))
	}
	if pg != "" {
		t.postgres = pg
		return t, nil
	}
	raw, from := o.redisURL, "-redis"
	if raw == "" {
		raw, from = strings.TrimSpace(getenv(envRedisURL)), "$"+envRedisURL
	}
	restURL := strings.TrimSpace(getenv(upstash.EnvURL))
	token := strings.TrimSpace(getenv(upstash.EnvToken))
	if raw == "" {
		switch {
		case restURL != "" && token != "":
			t.url, t.token = restURL, token
		case restURL != "":
			return t, fmt.Errorf("fila: $%s is set but $%s is not: set both to use Upstash (the REST API section of the Upstash console shows them), or give -redis",
				upstash.EnvURL, upstash.EnvToken)
		case token != "":
			return t, fmt.Errorf("fila: $%s is set but $%s is not: set both to use Upstash (the REST API section of the Upstash console shows them), or give -redis",
				upstash.EnvToken, upstash.EnvURL)
		default:
			t.url = defaultRedisURL
		}
		return t, nil
	}
	t.url = raw
	if !isRESTURL(raw) {
		return t, nil
	}
	if token == "" {
		return t, fmt.Errorf("fila: %s %s is an Upstash REST URL, and its token comes from $%s, which is not set",
			from, redactURL(raw), upstash.EnvToken)
	}
	t.token = token
	return t, nil
}

// isRESTURL reports whether raw is an http:// or https:// URL: an Upstash
// REST endpoint rather than a Redis URL.
func isRESTURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (strings.EqualFold(u.Scheme, "https") || strings.EqualFold(u.Scheme, "http"))
}

// upstashUsage explains, in the top-level usage, how to reach Upstash.
const upstashUsage = `
Upstash (Redis over its REST API):
  With no -redis and no $FILA_REDIS_URL, fila uses Upstash when both
  $UPSTASH_REDIS_REST_URL and $UPSTASH_REDIS_REST_TOKEN are set (the REST API
  section of the Upstash console shows them; use the standard token, not the
  read-only one). -redis https://<name>.upstash.io (or any http(s) URL) also
  selects Upstash, with the token from $UPSTASH_REDIS_REST_TOKEN: a token is
  never a flag, and errors and logs show it as xxxxx. Over Upstash the job bucket count defaults to 32, as in
  backend/upstash; an application that set redisbackend.WithJobBuckets needs
  the same -job-buckets here, or its queues fail with "queue layout differs".
`
