// Package pgtest starts private PostgreSQL servers for tests: initdb into a
// temporary directory, a free loopback port, the unix socket in that
// directory, fsync off. Tests never touch a server they did not start.
//
// One server serves a whole test binary: wire it in TestMain with Main, and
// each test gets a fresh database from DB. Start runs a server of the
// test's own (for restart and fault tests).
//
// Without the server binaries (initdb, postgres: looked up on PATH and in
// /usr/lib/postgresql/*/bin) the tests that need one are skipped, unless
// FILA_REQUIRE_POSTGRES=1 (CI), when they fail instead.
//
// initdb refuses to run as root; when the test runs as root the server runs
// as the user "nobody" (setuid in the child; the data directory is given to
// that user).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is one PostgreSQL server process a test (or a test binary) owns.
type Server struct {
	Port int
	Dir  string // data directory's parent: data/, the socket and the log live here

	bin  string
	cred *syscall.Credential
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// URL returns a connection string for database db as the superuser "fila".
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://fila@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// binDir finds the directory holding initdb and postgres.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "postgres")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("initdb and postgres not found on PATH or in /usr/lib/postgresql/*/bin")
}

func versionOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// available returns the binaries' directory, or skips (fails when
// FILA_REQUIRE_POSTGRES=1) the test.
func available(t testing.TB) string {
	t.Helper()
	dir, err := binDir()
	if err != nil {
		if os.Getenv("FILA_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("pgtest: %v, and FILA_REQUIRE_POSTGRES=1", err)
		}
		t.Skipf("pgtest: %v; set FILA_REQUIRE_POSTGRES=1 to make this a failure", err)
	}
	return dir
}

// Start runs a private server for this test and stops it (immediate
// shutdown) and removes its files when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := launch(available(t))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(s.Remove)
	return s
}

// launch creates a cluster in a new temporary directory and starts it on a
// free port, trying other ports when one is taken meanwhile.
func launch(bin string) (*Server, error) {
	dir, err := os.MkdirTemp("", "fila-pgtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		if s.cred, err = nobody(); err == nil {
			err = os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid))
		}
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and cannot use user nobody: %w", err)
		}
	}
	out, err := s.command(filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", "fila",
		"--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	for attempt := 1; ; attempt++ {
		s.Port, err = freePort()
		if err == nil {
			err = s.start()
		}
		if err == nil {
			return s, nil
		}
		if !strings.Contains(err.Error(), "already in use") || attempt == 5 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

func nobody() (*syscall.Credential, error) {
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd
}

// start runs postgres on s.Port and waits until it accepts connections.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	logName := filepath.Join(s.Dir, fmt.Sprintf("postgres-%d.log", time.Now().UnixNano()))
	log, err := os.Create(logName)
	if err != nil {
		return err
	}
	if s.cred != nil {
		_ = log.Chown(int(s.cred.Uid), int(s.cred.Gid))
	}
	cmd := s.command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.Dir, "data"),
		"-p", strconv.Itoa(s.Port), "-h", "127.0.0.1", "-k", s.Dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=64MB")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			b, _ := os.ReadFile(logName)
			return fmt.Errorf("postgres on port %d exited:\n%s", s.Port, b)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, s.URL("postgres"))
		cancel()
		if err == nil {
			c.Close(context.Background())
			s.cmd, s.done = cmd, done
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("postgres on port %d did not accept connections: %v", s.Port, err)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// Stop shuts the server down: fast (SIGINT, clients disconnected, a clean
// checkpoint) or immediate (SIGQUIT, like a crash). Safe to call twice.
func (s *Server) Stop(fast bool) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	sig := syscall.SIGQUIT
	if fast {
		sig = syscall.SIGINT
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart starts the stopped server again on the same port and data.
func (s *Server) Restart() error { return s.start() }

// Remove stops the server at once and deletes its files.
func (s *Server) Remove() {
	s.Stop(false)
	os.RemoveAll(s.Dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// shared is the test binary's server, started by the first DB call.
var shared struct {
	mu  sync.Mutex
	s   *Server
	err error
	n   atomic.Int64
}

// Main runs the tests of a package and stops the shared server after
// them. Use it in TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	if shared.s != nil {
		shared.s.Remove()
	}
	shared.mu.Unlock()
	return code
}

// DB creates a fresh database on the test binary's shared server (started
// on first use) and returns its URL; the database is dropped when the test
// ends. The package's TestMain must call Main so the server stops.
func DB(t testing.TB) string {
	t.Helper()
	bin := available(t)
	shared.mu.Lock()
	if shared.s == nil && shared.err == nil {
		shared.s, shared.err = launch(bin)
	}
	s, err := shared.s, shared.err
	shared.mu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := fmt.Sprintf("t%d_%d", os.Getpid(), shared.n.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, s.URL("postgres"))
		if err != nil {
			return // the server is gone; Main removes its files
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return s.URL(name)
}
