// Package redistest starts private redis-server processes for tests, on free
// loopback ports, and stops them when the test ends.
//
// Without redis-server on PATH the tests that need one are skipped, unless
// FILA_REQUIRE_REDIS=1 (CI), when they fail instead; FILA_REQUIRE_CLUSTER=1
// does the same for Cluster tests. FILA_REDIS_ADDR points the single-server
// helper at an existing server instead of starting one.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is one redis-server process the test owns.
type Server struct {
	Addr string
	Dir  string
	Port int

	t     testing.TB
	args  []string
	ready readyFunc // waits until the server serves
	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
}

// readyFunc waits until s serves, or reports why it does not: an
// *exitError when the process ended first.
type readyFunc func(s *Server, exited <-chan struct{}, logName string) error

// exitError says that redis-server exited before it served, with its log.
type exitError struct {
	addr string
	log  []byte
}

func (e *exitError) Error() string {
	return fmt.Sprintf("redis-server on %s exited:\n%s", e.addr, e.log)
}

// portTaken reports whether the server exited because another process had
// bound one of its ports (client, TLS or cluster bus) in the meantime.
func (e *exitError) portTaken() bool {
	return strings.Contains(string(e.log), "Address already in use")
}

// exited builds the *exitError of a server whose process ended.
func exited(addr, logName string) error {
	b, _ := os.ReadFile(logName)
	return &exitError{addr: addr, log: b}
}

// portAttempts bounds how many free ports start tries: another test may
// bind a port between FreePort choosing it and redis-server binding it.
const portAttempts = 5

// require skips or fails the test when redis-server is missing.
func require(t testing.TB, env string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(env) == "1" || os.Getenv("FILA_REQUIRE_REDIS") == "1" {
			t.Fatalf("redis-server is not on PATH and %s=1", env)
		}
		t.Skip("redis-server not on PATH; set FILA_REQUIRE_REDIS=1 to make this a failure")
	}
	return bin
}

// Binary returns redis-server's path for a test that starts its servers
// itself, and skips the test without one (fails it under
// FILA_REQUIRE_REDIS=1), as Start does.
func Binary(t testing.TB) string {
	t.Helper()
	return require(t, "FILA_REQUIRE_REDIS")
}

// Addr returns the address of a Redis server for the test: FILA_REDIS_ADDR
// when set, otherwise a private server started with Start.
func Addr(t testing.TB) string {
	if a := os.Getenv("FILA_REDIS_ADDR"); a != "" {
		return a
	}
	return Start(t).Addr
}

// Start runs a redis-server on a free loopback port with persistence off
// (extra arguments may turn it on) and stops it at the end of the test.
// If another process takes the port before redis-server binds it, Start
// tries another one.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	return start(t, func() int { return FreePort(t) }, nil, func(int) []string { return extra })
}

// start runs redis-server on a port from nextPort, with the arguments
// extra returns for that port; ready, when set, replaces the PING check.
// When the server exits because a port was taken meanwhile, it tries the
// next port, up to portAttempts times.
func start(t testing.TB, nextPort func() int, ready readyFunc, extra func(port int) []string) *Server {
	t.Helper()
	bin := require(t, "FILA_REQUIRE_REDIS")
	if ready == nil {
		ready = func(s *Server, exited <-chan struct{}, logName string) error {
			return waitReady(s.Addr, exited, logName)
		}
	}
	for attempt := 1; ; attempt++ {
		port := nextPort()
		dir := t.TempDir()
		args := append([]string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--protected-mode", "no", "--daemonize", "no",
		}, extra(port)...)
		s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir, Port: port, t: t, args: append([]string{bin}, args...), ready: ready}
		err := s.launch()
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		var ee *exitError
		if !errors.As(err, &ee) || !ee.portTaken() || attempt == portAttempts {
			t.Fatalf("redistest: %v", err)
		}
		t.Logf("redistest: port %d was taken before redis-server bound it (attempt %d); trying another", port, attempt)
	}
}

// start launches the process and fails the test if it does not serve.
func (s *Server) start() {
	s.t.Helper()
	if err := s.launch(); err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
}

// launch starts the process and waits until it serves. On failure the
// process is gone.
func (s *Server) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.SysProcAttr = procAttr()
	log, err := os.Create(filepath.Join(s.Dir, fmt.Sprintf("redis-%d.log", time.Now().UnixNano())))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(done) }()
	if err := s.ready(s, done, log.Name()); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return err
	}
	s.cmd, s.done = cmd, done
	return nil
}

func waitReady(addr string, exitedC <-chan struct{}, logName string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exitedC:
			return exited(addr, logName)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 64)
			n, _ := c.Read(buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on %s did not answer PING", addr)
}

// Stop ends the server (SIGTERM) and waits for it. It is safe to call twice.
func (s *Server) Stop() { s.signal(false) }

// Kill ends the server with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() { s.signal(true) }

func (s *Server) signal(kill bool) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	if kill {
		_ = cmd.Process.Kill()
	} else {
		_ = cmd.Process.Signal(os.Interrupt)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart starts the server again on the same port and directory.
func (s *Server) Restart() { s.start() }

// FreePort returns a loopback TCP port that was free a moment ago, below
// 55535 so a Cluster bus port (+10000) is valid too.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port >= 55535 {
			continue
		}
		if bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000)); err == nil {
			bus.Close()
			return port
		}
	}
	t.Fatal("redistest: no free port")
	return 0
}

// Cluster starts a 3-master Redis Cluster (no replicas) on loopback and
// returns its node addresses. It is skipped without redis-server and
// redis-cli unless FILA_REQUIRE_CLUSTER=1.
func Cluster(t testing.TB) []string {
	t.Helper()
	require(t, "FILA_REQUIRE_CLUSTER")
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("FILA_REQUIRE_CLUSTER") == "1" {
			t.Fatal("redis-cli is not on PATH and FILA_REQUIRE_CLUSTER=1")
		}
		t.Skip("redis-cli not on PATH")
	}
	var addrs []string
	for range 3 {
		s := Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000")
		addrs = append(addrs, s.Addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer rdb.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := rdb.ClusterInfo(context.Background()).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			ok := true
			for _, a := range addrs { // every node must agree before tests route by slot
				c := redis.NewClient(&redis.Options{Addr: a})
				ni, err := c.ClusterInfo(context.Background()).Result()
				c.Close()
				ok = ok && err == nil && strings.Contains(ni, "cluster_state:ok")
			}
			if ok {
				return addrs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: cluster not ok: %v %s", err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
