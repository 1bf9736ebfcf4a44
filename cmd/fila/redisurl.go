package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The -redis URL forms. Single node and TLS are go-redis's own
// (redis.ParseURL); Cluster and Sentinel list their seed nodes comma
// separated, since neither has one address:
//
//	redis://[user:password@]host:port[/db][?option=value]
//	rediss://...                                      (TLS)
//	redis+cluster://[user:password@]host:port,host:port[?option=value]
//	rediss+cluster://...                              (TLS)
//	redis+sentinel://[user:password@]host:port,host:port/master[/db][?option=value]
//	rediss+sentinel://...                             (TLS)
//
// For Sentinel, user:password are the master's credentials, and the
// sentinels' own come from the sentinel_username and sentinel_password
// options. A Cluster node's port defaults to 6379, a sentinel's to 26379.
// The options are go-redis's URL options (dial_timeout, pool_size, ...).
// max_retries defaults to -1, as fila's Redis backend asks (a script resent
// after a dropped reply would run twice); ContextTimeoutEnabled stays off.
const redisURLHelp = "Redis `URL`: redis:// or rediss:// (TLS), redis+cluster://host:port,host:port, " +
	"redis+sentinel://host:port,host:port/master (rediss+ for TLS), or an Upstash REST https:// URL; " +
	"default $FILA_REDIS_URL, then Upstash from $UPSTASH_REDIS_REST_URL and $UPSTASH_REDIS_REST_TOKEN, then " + defaultRedisURL

// redisURLUsage explains the URL forms in the top-level usage.
const redisURLUsage = `
Redis URLs (-redis):
  redis://[user:password@]host:port[/db]                      one node; rediss:// for TLS
  redis+cluster://[user:password@]host:port,host:port         a Cluster, by its seed nodes
  redis+sentinel://[user:password@]host:port,host:port/master[/db]
                                                              the master named, through its sentinels
  rediss+cluster:// and rediss+sentinel:// use TLS. For Sentinel, user:password are the
  master's; the sentinels' come from ?sentinel_username=...&sentinel_password=....
  Any go-redis URL option may follow (?dial_timeout=5s&pool_size=4). max_retries is -1
  unless set: fila's scripts must not be resent after a dropped reply.
`

// redisTarget is a parsed -redis URL: exactly one of its fields is set.
type redisTarget struct {
	single   *redis.Options
	cluster  *redis.ClusterOptions
	failover *redis.FailoverOptions
}

// client returns a client for the target.
func (t redisTarget) client() redis.UniversalClient {
	switch {
	case t.cluster != nil:
		return redis.NewClusterClient(t.cluster)
	case t.failover != nil:
		return redis.NewFailoverClient(t.failover)
	}
	return redis.NewClient(t.single)
}

// parseRedisURL reads a -redis URL in one of the forms above.
func parseRedisURL(raw string) (redisTarget, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return redisTarget{}, errors.New("want a URL such as " + defaultRedisURL)
	}
	base, topology, _ := strings.Cut(scheme, "+")
	if topology == "" { // redis://, rediss://, unix://: go-redis's own forms
		o, err := redis.ParseURL(raw)
		if err != nil {
			return redisTarget{}, err
		}
		if u, err := url.Parse(raw); err == nil && !u.Query().Has("max_retries") {
			o.MaxRetries = -1
		}
		return redisTarget{single: o}, nil
	}
	if base != "redis" && base != "rediss" {
		return redisTarget{}, fmt.Errorf("unknown scheme %q: want redis, rediss, redis+cluster or redis+sentinel (rediss+ for TLS)", scheme)
	}
	var t redisTarget
	switch topology {
	case "cluster":
		o, err := parseClusterURL(base, rest)
		if err != nil {
			return redisTarget{}, err
		}
		t.cluster = o
	case "sentinel":
		o, err := parseSentinelURL(base, rest)
		if err != nil {
			return redisTarget{}, err
		}
		t.failover = o
	default:
		return redisTarget{}, fmt.Errorf("unknown scheme %q: want redis, rediss, redis+cluster or redis+sentinel (rediss+ for TLS)", scheme)
	}
	return t, nil
}

// splitURL takes apart what follows "scheme://": the user info, the comma
// separated hosts (each given defaultPort when it has none), the path and
// the query.
func splitURL(rest, defaultPort string) (user *url.Userinfo, hosts []string, path string, q url.Values, err error) {
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		u, err := url.Parse("redis://" + authority[:at+1] + "host")
		if err != nil {
			return nil, nil, "", nil, fmt.Errorf("user info: %w", err)
		}
		user, authority = u.User, authority[at+1:]
	}
	for _, h := range strings.Split(authority, ",") {
		if h == "" {
			return nil, nil, "", nil, errors.New("an empty host in the host list")
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), defaultPort)
			if _, _, err := net.SplitHostPort(h); err != nil {
				return nil, nil, "", nil, fmt.Errorf("host %q: %w", h, err)
			}
		}
		hosts = append(hosts, h)
	}
	u, err := url.Parse("redis://host" + tail)
	if err != nil {
		return nil, nil, "", nil, err
	}
	return user, hosts, u.Path, u.Query(), nil
}

// rebuild writes the go-redis URL form: the first host in the authority,
// the others as addr options.
func rebuild(base string, user *url.Userinfo, hosts []string, path string, q url.Values) string {
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	u := url.URL{Scheme: base, User: user, Host: hosts[0], Path: path, RawQuery: q.Encode()}
	return u.String()
}

func parseClusterURL(base, rest string) (*redis.ClusterOptions, error) {
	user, hosts, path, q, err := splitURL(rest, "6379")
	if err != nil {
		return nil, err
	}
	if strings.Trim(path, "/") != "" {
		return nil, fmt.Errorf("a Cluster URL has no path (a cluster has one database), got %q", path)
	}
	retries := q.Has("max_retries")
	o, err := redis.ParseClusterURL(rebuild(base, user, hosts, "", q))
	if err != nil {
		return nil, err
	}
	if !retries {
		o.MaxRetries = -1
	}
	if o.TLSConfig != nil {
		// Each node is verified by its own name, not the first seed's.
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return o, nil
}

func parseSentinelURL(base, rest string) (*redis.FailoverOptions, error) {
	user, hosts, path, q, err := splitURL(rest, "26379")
	if err != nil {
		return nil, err
	}
	parts := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
	if len(parts) == 0 || len(parts) > 2 {
		return nil, errors.New("a Sentinel URL names the master after the hosts: redis+sentinel://host:port,host:port/master[/db]")
	}
	q.Set("master_name", parts[0])
	if user != nil { // the master's credentials
		q.Set("username", user.Username())
		if p, ok := user.Password(); ok {
			q.Set("password", p)
		}
	}
	var sentinelUser *url.Userinfo // the sentinels' credentials
	if su, sp := q.Get("sentinel_username"), q.Get("sentinel_password"); su != "" || sp != "" {
		sentinelUser = url.UserPassword(su, sp)
	}
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	dbPath := ""
	if len(parts) == 2 {
		dbPath = "/" + parts[1]
	}
	retries := q.Has("max_retries")
	o, err := redis.ParseFailoverURL(rebuild(base, sentinelUser, hosts, dbPath, q))
	if err != nil {
		return nil, err
	}
	if !retries {
		o.MaxRetries = -1
	}
	if o.TLSConfig != nil {
		// The master and each sentinel are verified by their own names.
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.TLSConfig.InsecureSkipVerify}
	}
	return o, nil
}
