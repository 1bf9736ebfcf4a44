package redistest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"
	must "github.com/stretchr/testify/require"
)

// taken returns a loopback port held until the test ends, as another
// test's server would hold it.
func taken(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// portsFrom returns a nextPort that yields first, then free ports, and
// counts its calls in n.
func portsFrom(t *testing.T, first int, n *int) func() int {
	return func() int {
		*n++
		if *n == 1 {
			return first
		}
		return FreePort(t)
	}
}

func ping(t *testing.T, opts *redis.Options) {
	t.Helper()
	c := redis.NewClient(opts)
	defer c.Close()
	must.NoError(t, c.Ping(context.Background()).Err())
}

func TestStartTriesAnotherPortWhenTheChosenOneIsTaken(t *testing.T) {
	t.Parallel()

	t.Run("Plain", func(t *testing.T) {
		t.Parallel()
		p := taken(t)
		var calls int
		s := start(t, portsFrom(t, p, &calls), nil, func(int) []string { return nil })
		must.Equal(t, 2, calls, "the taken port was tried, then another")
		must.NotEqual(t, p, s.Port)
		ping(t, &redis.Options{Addr: s.Addr})
	})

	t.Run("TLS", func(t *testing.T) {
		t.Parallel()
		p := taken(t)
		var calls int
		s, caPEM := startTLS(t, portsFrom(t, p, &calls))
		must.Equal(t, 2, calls, "the taken port was tried, then another")
		must.NotEqual(t, p, s.Port)
		pool := x509.NewCertPool()
		must.True(t, pool.AppendCertsFromPEM(caPEM))
		ping(t, &redis.Options{Addr: s.Addr, TLSConfig: &tls.Config{RootCAs: pool}})
	})

	t.Run("ClusterBusPort", func(t *testing.T) {
		t.Parallel()
		// A free client port whose bus port (+10000) another process holds.
		var p int
		for p == 0 {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			must.NoError(t, err)
			bus := l.Addr().(*net.TCPAddr).Port
			if bus >= 11024 {
				if c, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(bus-10000)); err == nil {
					c.Close()
					p = bus - 10000
					t.Cleanup(func() { l.Close() })
					continue
				}
			}
			l.Close()
		}
		var calls int
		s := start(t, portsFrom(t, p, &calls), nil, func(int) []string {
			return []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"}
		})
		must.Equal(t, 2, calls, "the port with a taken bus port was tried, then another")
		must.NotEqual(t, p, s.Port)
		ping(t, &redis.Options{Addr: s.Addr})
	})
}

func TestExitErrorTellsATakenPortFromOtherFailures(t *testing.T) {
	t.Parallel()
	bind := &exitError{addr: "127.0.0.1:1", log: []byte("# Warning: Could not create server TCP listening socket 127.0.0.1:1: bind: Address already in use\n# Failed listening on port 1 (tcp), aborting.\n")}
	must.True(t, bind.portTaken())
	tlsConf := &exitError{addr: "127.0.0.1:1", log: []byte("# No tls-key-file configured!\n# Failed to configure TLS. Check logs for more info.\n")}
	must.False(t, tlsConf.portTaken())
	must.Contains(t, tlsConf.Error(), "Failed to configure TLS")
}
