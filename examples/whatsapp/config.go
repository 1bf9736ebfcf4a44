package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fila-go/fila/examples/whatsapp/cloudapi"
)

// Role says which parts of the app a process runs: the webhook server, the
// workers, or both. Web and worker processes scale separately against one
// Redis.
type Role string

// The roles.
const (
	RoleWeb    Role = "web"
	RoleWorker Role = "worker"
	RoleAll    Role = "all"
)

func (r Role) web() bool    { return r == RoleWeb || r == RoleAll }
func (r Role) worker() bool { return r == RoleWorker || r == RoleAll }

// Built-in secrets of demo mode. They are public, so demo mode never
// reaches Meta unless WHATSAPP_API_URL says so.
const (
	demoVerifyToken = "demo-verify-token"
	demoAppSecret   = "demo-app-secret"
	demoAccessToken = "demo-access-token"
)

// Config is the app's configuration: flags, then the environment.
type Config struct {
	Role Role
	// Demo uses built-in secrets and, unless APIURL is set, an in-process
	// fake Graph API, and plays a short conversation.
	Demo bool
	Host string // HOST: the interface to listen on; empty means all (loopback in demo mode)
	Port string // PORT: default 8080

	// Storage selects the backend (see storage.go).
	Storage StorageConfig

	VerifyToken string // WHATSAPP_VERIFY_TOKEN: the webhook handshake token
	AppSecret   string // WHATSAPP_APP_SECRET: signs every webhook POST
	AccessToken string // WHATSAPP_ACCESS_TOKEN: the Graph API bearer token
	// APIURL (WHATSAPP_API_URL) is the Graph API base, version included.
	// Empty only in demo mode, where the fake's URL fills it in.
	APIURL string

	// ShutdownTimeout (SHUTDOWN_TIMEOUT) bounds the graceful shutdown.
	ShutdownTimeout time.Duration
	LogLevel        slog.Level // LOG_LEVEL: debug, info, warn, error
	LogJSON         bool       // LOG_FORMAT=json

	// Queues are the five queues' settings: defaults, tuned by
	// LOCK_DURATION, STALLED_INTERVAL and OUTBOUND_PER_SECOND.
	Queues Settings

	// Dashboard is the login of the queue dashboard (see dashboard.go).
	Dashboard DashboardConfig

	// Summary is the daily summary's schedule (see summary.go).
	Summary SummaryConfig
}

// Addr returns the address to listen on.
func (c *Config) Addr() string { return net.JoinHostPort(c.Host, c.Port) }

// envVars documents the environment, for -h.
const envVars = `Environment:
  PORT                   listen port (default 8080); HOST the interface (default all; -demo: 127.0.0.1)
` + storageEnvHelp + `
  WHATSAPP_VERIFY_TOKEN  the verify token typed in the App Dashboard (web role)
  WHATSAPP_APP_SECRET    the app secret that signs webhooks (web role)
  WHATSAPP_ACCESS_TOKEN  the Graph API access token (worker role)
  WHATSAPP_API_URL       the Graph API base (default ` + cloudapi.DefaultBaseURL + `)
  DEMO=1                 the same as -demo
  DASHBOARD_PASSWORD     serve the queue dashboard at /admin/queues/ behind basic auth (12+ characters;
                         -demo: "demo"); DASHBOARD_USER its user (default admin)
  OUTBOUND_PER_SECOND    global limit of Graph API sends per second (default 10)
  LOCK_DURATION          job lock lifetime (default 30s); a killed worker's jobs rerun after it
  STALLED_INTERVAL       stalled-job check period (default 30s)
  SHUTDOWN_TIMEOUT       graceful shutdown bound (default 25s)
  LOG_LEVEL              debug, info, warn or error (default info); LOG_FORMAT=json for JSON logs
` + summaryEnvHelp

// loadConfig reads flags from args and settings from getenv. Missing
// secrets fail, naming each variable, unless demo mode supplies them.
func loadConfig(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	fs := flag.NewFlagSet("whatsapp", flag.ContinueOnError)
	fs.SetOutput(usage)
	role := fs.String("role", string(RoleAll), "what this process runs: web (webhooks), worker (queues) or all")
	demo := fs.Bool("demo", false, "use demo secrets and an in-process fake Graph API, and play a sample conversation")
	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage: whatsapp [-role web|worker|all] [-demo]\n\n")
		fs.PrintDefaults()
		fmt.Fprintf(usage, "\n%s", envVars)
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}
	c := Config{
		Role: Role(*role), Demo: *demo || getenv("DEMO") == "1",
		Host: getenv("HOST"), Port: orDefault(getenv("PORT"), "8080"),
		VerifyToken: getenv("WHATSAPP_VERIFY_TOKEN"), AppSecret: getenv("WHATSAPP_APP_SECRET"),
		AccessToken: getenv("WHATSAPP_ACCESS_TOKEN"), APIURL: getenv("WHATSAPP_API_URL"),
		LogJSON: strings.EqualFold(getenv("LOG_FORMAT"), "json"),
	}
	var errs []error
	var storageErr error
	if c.Storage, storageErr = loadStorageConfig(getenv); storageErr != nil {
		errs = append(errs, storageErr)
	}
	switch c.Role {
	case RoleWeb, RoleWorker, RoleAll:
	default:
		errs = append(errs, fmt.Errorf("config: -role is %q; use web, worker or all", *role))
	}
	if c.Role != RoleAll && storageErr == nil && !c.Storage.shared() {
		errs = append(errs, fmt.Errorf("config: -role %s needs a shared backend such as REDIS_URL or Upstash's (UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN): the memory backend lives inside one process, so web and workers must run together (-role all)", c.Role))
	}
	if c.Demo && c.Role != RoleAll {
		errs = append(errs, errors.New("config: -demo runs the whole app in one process; use it with -role all"))
	}
	if p, err := strconv.Atoi(c.Port); err != nil || p < 0 || p > 65535 {
		errs = append(errs, fmt.Errorf("config: PORT is %q; want a port number", c.Port))
	}
	if c.Demo && c.Host == "" {
		// The demo's secrets are public: do not offer it to the network.
		c.Host = "127.0.0.1"
	}
	errs = append(errs, c.secrets()...)
	var dashErr error
	if c.Dashboard, dashErr = loadDashboardConfig(getenv, c.Demo); dashErr != nil {
		errs = append(errs, dashErr)
	}
	if c.APIURL == "" && !c.Demo {
		c.APIURL = cloudapi.DefaultBaseURL
	}
	if c.APIURL != "" {
		if u, err := url.Parse(c.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("config: WHATSAPP_API_URL is %q; want an http(s) URL such as %s", c.APIURL, cloudapi.DefaultBaseURL))
		}
	}
	errs = append(errs, c.tuning(getenv)...)
	var sumErr error
	if c.Summary, sumErr = loadSummaryConfig(getenv); sumErr != nil {
		errs = append(errs, sumErr)
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// secrets fills demo secrets in demo mode, and otherwise reports each
// secret the role needs that is not set.
func (c *Config) secrets() []error {
	type secret struct {
		v     *string
		name  string
		what  string
		demo  string
		needs bool
	}
	list := []secret{
		{&c.VerifyToken, "WHATSAPP_VERIFY_TOKEN", "the verify token you typed in the App Dashboard's webhook settings", demoVerifyToken, c.Role.web()},
		{&c.AppSecret, "WHATSAPP_APP_SECRET", "the app secret from App Dashboard > Settings > Basic, which signs every webhook", demoAppSecret, c.Role.web()},
		{&c.AccessToken, "WHATSAPP_ACCESS_TOKEN", "a System User access token for the Graph API", demoAccessToken, c.Role.worker()},
	}
	var errs []error
	for _, s := range list {
		switch {
		case *s.v != "" || !s.needs:
		case c.Demo:
			*s.v = s.demo
		default:
			errs = append(errs, fmt.Errorf("config: %s is not set: %s (or run with -demo to try the app with demo secrets and a fake Graph API)", s.name, s.what))
		}
	}
	return errs
}

// minLockDuration is the shortest lock fila's workers accept.
const minLockDuration = 10 * time.Millisecond

// tuning reads the optional durations, limits and log settings.
func (c *Config) tuning(getenv func(string) string) []error {
	var errs []error
	duration := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("config: %s is %q; want a positive duration such as 30s", name, v))
			return def
		}
		return d
	}
	c.ShutdownTimeout = duration("SHUTDOWN_TIMEOUT", 25*time.Second)
	lock := duration("LOCK_DURATION", 30*time.Second)
	if lock < minLockDuration {
		errs = append(errs, fmt.Errorf("config: LOCK_DURATION is %q; want at least %v", getenv("LOCK_DURATION"), minLockDuration))
	}
	stalled := duration("STALLED_INTERVAL", 30*time.Second)
	perSecond := 10
	if v := getenv("OUTBOUND_PER_SECOND"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("config: OUTBOUND_PER_SECOND is %q; want a positive integer", v))
		} else {
			perSecond = n
		}
	}
	c.Queues = DefaultSettings(perSecond)
	c.Queues.each(func(s *QueueSettings) {
		s.Worker.LockDuration, s.Worker.StalledInterval = lock, stalled
	})
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("config: LOG_LEVEL is %q; want debug, info, warn or error", v))
		}
	}
	return errs
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
