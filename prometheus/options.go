package filaprom

import "time"

// DefaultTimeout bounds the backend reads of one scrape.
const DefaultTimeout = 5 * time.Second

// Option configures a collector.
type Option func(*config)

type config struct {
	namespace string
	timeout   time.Duration
}

// WithNamespace sets the prefix of every series name; default "fila". An
// empty namespace leaves the names unprefixed.
func WithNamespace(ns string) Option { return func(c *config) { c.namespace = ns } }

// WithTimeout bounds the backend reads (counts and switches of every queue)
// of one scrape; default DefaultTimeout. A queue that has not answered by
// then is reported as a scrape error.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

func buildConfig(opts []Option) config {
	c := config{namespace: "fila", timeout: DefaultTimeout}
	for _, o := range opts {
		o(&c)
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	return c
}
