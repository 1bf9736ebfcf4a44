package upstash

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Environment variables read by ConfigFromEnv; the names Upstash's console
// and SDKs use.
const (
	EnvURL   = "UPSTASH_REDIS_REST_URL"
	EnvToken = "UPSTASH_REDIS_REST_TOKEN"
)

// Defaults of Config. See the package doc for the command cost behind the
// poll interval.
const (
	DefaultTimeout         = 10 * time.Second
	DefaultRetries         = 3
	DefaultPollMin         = 100 * time.Millisecond
	DefaultPollMax         = 30 * time.Second
	DefaultMaxRequestBytes = 8 << 20
	DefaultMaxConns        = 64
)

// Config configures the REST transport and the backend over it. The zero
// value of every field but URL and Token means the documented default.
type Config struct {
	// URL is the database's REST endpoint, "https://<name>.upstash.io"
	// (UPSTASH_REDIS_REST_URL). Required.
	URL string
	// Token is the database's standard REST token (UPSTASH_REDIS_REST_TOKEN).
	// Required. The read-only token cannot run fila's scripts.
	Token string

	// HTTPClient sends the requests. Default: a client of the backend's own
	// whose Transport keeps up to MaxConns connections alive to the endpoint
	// (Close closes them). A client passed here is used as it is and never
	// closed; give its Transport enough idle connections per host for your
	// total worker concurrency (net/http's default keeps only 2).
	HTTPClient *http.Client
	// Timeout bounds one HTTP attempt; default 10s. fila never sends a
	// blocking command, so an attempt that takes longer is a failing
	// network or service.
	Timeout time.Duration
	// Retries is how many times an idempotent call (PING and fila's
	// read-only scripts) is tried again after a 5xx answer or a network
	// error, with a jittered backoff from 50ms doubling to 2s; default 3,
	// negative for none. Calls that change state are never sent twice,
	// except when their connection could not even be opened.
	Retries int
	// PollMin and PollMax bound how an idle claim polls, since REST has no
	// blocking commands: from PollMin, doubling while the queue stays idle,
	// up to PollMax, back to PollMin once a job is claimed, and never past
	// the next delayed job. Defaults 100ms and 30s: an idle worker costs
	// about 240 commands an hour with fila's default 30s StalledInterval
	// (see the package doc), and a job added to an idle queue waits up to
	// PollMax. Event reads poll the same way.
	PollMin, PollMax time.Duration
	// MaxRequestBytes caps the body of one request: EvalBatch splits its
	// pipeline below it. Default 8 MiB, under the 10 MB request limit of
	// Upstash's free and pay-as-you-go plans; raise it on plans with a
	// larger limit.
	MaxRequestBytes int
	// MaxConns is the number of keep-alive connections the default client
	// keeps open to the endpoint; default 64. Ignored with HTTPClient.
	MaxConns int
	// Logger receives a debug line per retried request; default: none.
	Logger *slog.Logger
	// GlobalLock sends fila's scripts without the allow-key-locking flag,
	// so Upstash runs each under its lock on the whole database instead of
	// on the keys it declares. That lets a script reach a queue it was not
	// given, which flows across queues need (fila.FlowJob.Queue): a child's
	// finish moves its parent in the parent's queue. The cost: no two
	// scripts of the database run at once. Default false (key locking;
	// a flow's jobs must then be in one queue).
	GlobalLock bool
}

// ConfigFromEnv returns a Config with URL and Token from
// UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN and every other field
// zero (the defaults). It fails naming the variables that are missing.
func ConfigFromEnv() (Config, error) {
	cfg := Config{URL: strings.TrimSpace(os.Getenv(EnvURL)), Token: strings.TrimSpace(os.Getenv(EnvToken))}
	var missing []string
	if cfg.URL == "" {
		missing = append(missing, EnvURL)
	}
	if cfg.Token == "" {
		missing = append(missing, EnvToken)
	}
	if len(missing) > 0 {
		what := "environment variable " + missing[0] + " is"
		if len(missing) == 2 {
			what = "environment variables " + missing[0] + " and " + missing[1] + " are"
		}
		return Config{}, fmt.Errorf("upstash: %s not set (copy it from the REST API section of the Upstash console)", what)
	}
	return cfg, nil
}

// withDefaults validates cfg and fills in the defaults.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.URL == "" {
		return cfg, errors.New("upstash: Config.URL is empty (set " + EnvURL + ")")
	}
	if cfg.Token == "" {
		return cfg, errors.New("upstash: Config.Token is empty (set " + EnvToken + ")")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return cfg, fmt.Errorf("upstash: Config.URL %q is not an http(s) URL like https://<name>.upstash.io", cfg.URL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return cfg, fmt.Errorf("upstash: Config.URL %q may not carry a query, fragment or credentials; put the token in Config.Token", redact(u))
	}
	cfg.URL = strings.TrimRight(u.String(), "/")
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	if cfg.PollMin <= 0 {
		cfg.PollMin = DefaultPollMin
	}
	if cfg.PollMax <= 0 {
		cfg.PollMax = max(DefaultPollMax, cfg.PollMin)
	}
	if cfg.PollMax < cfg.PollMin {
		return cfg, fmt.Errorf("upstash: Config.PollMax %v is below PollMin %v", cfg.PollMax, cfg.PollMin)
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	return cfg, nil
}

func redact(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.Fragment = nil, "", ""
	return c.String()
}
