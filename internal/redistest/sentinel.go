package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel starts a master redis-server and one Sentinel
// (redis-server --sentinel) monitoring it under masterName, both on free
// loopback ports and stopped at the end of the test. It returns the
// Sentinel's address and the master. It is skipped without redis-server
// unless FILA_REQUIRE_REDIS=1.
func Sentinel(t testing.TB, masterName string) (string, *Server) {
	t.Helper()
	bin := require(t, "FILA_REQUIRE_REDIS")
	master := Start(t)
	port := FreePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	text := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndir %s\nsentinel monitor %s 127.0.0.1 %d 1\n",
		port, dir, masterName, master.Port)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil { // Sentinel rewrites its config file
		t.Fatalf("redistest: %v", err)
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir, Port: port, t: t,
		args: []string{bin, conf, "--sentinel"}}
	s.ready = func(s *Server, exited <-chan struct{}, logName string) error {
		if err := waitReady(s.Addr, exited, logName); err != nil {
			return err
		}
		waitMaster(t, s.Addr, masterName, master.Addr)
		return nil
	}
	s.start()
	t.Cleanup(s.Stop)
	return s.Addr, master
}

// waitMaster waits until the Sentinel at addr reports want as masterName's
// address.
func waitMaster(t testing.TB, addr, masterName, want string) {
	t.Helper()
	sc := redis.NewSentinelClient(&redis.Options{Addr: addr})
	defer sc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := sc.GetMasterAddrByName(context.Background(), masterName).Result()
		if err == nil && len(got) == 2 && got[0]+":"+got[1] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: sentinel on %s does not report master %s at %s: %v %v", addr, masterName, want, got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
