package faulttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Soak reports whether the full-size runs were asked for (FILA_SOAK=1);
// otherwise scenarios run at the reduced size CI uses.
func Soak() bool { return os.Getenv("FILA_SOAK") == "1" }

// Size returns full under FILA_SOAK=1 and reduced otherwise.
func Size[T any](reduced, full T) T {
	if Soak() {
		return full
	}
	return reduced
}

// BuildWorker builds the faultworker helper into a temporary directory of
// the test and returns its path. FILA_FAULT_RACE=1 builds it with -race.
func BuildWorker(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "faultworker")
	args := []string{"build", "-o", bin}
	if os.Getenv("FILA_FAULT_RACE") == "1" {
		args = append(args, "-race")
	}
	args = append(args, "github.com/fila-go/fila/internal/faulttest/cmd/faultworker")
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("faulttest: go build faultworker: %v\n%s", err, out)
	}
	return bin
}

func cgo() string {
	if os.Getenv("FILA_FAULT_RACE") == "1" {
		return "1"
	}
	return "0"
}

// skewedTimeNow is the body of time.Now in the skewed build: the wall clock
// moves by FILA_FAULT_CLOCK_SKEW_SECONDS, the monotonic clock (durations,
// timers) does not, as on a machine whose clock is set wrong.
const skewedTimeNow = `	sec, nsec, mono := runtimeNow()
	sec += faultClockSkew
`

// skewedTimeVar reads the skew once, at package init, without strconv.
const skewedTimeVar = `
var faultClockSkew = func() int64 {
	v, _ := syscall.Getenv("FILA_FAULT_CLOCK_SKEW_SECONDS")
	neg := len(v) > 0 && v[0] == '-'
	if neg || len(v) > 0 && v[0] == '+' {
		v = v[1:]
	}
	var n int64
	for i := 0; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		n = n*10 + int64(v[i]-'0')
	}
	if neg {
		n = -n
	}
	return n
}()
`

// BuildSkewedWorker builds faultworker against a copy of the standard
// library's time package whose time.Now is offset by the environment
// variable FILA_FAULT_CLOCK_SKEW_SECONDS (go build -overlay). Go reads the
// clock through the vDSO, not libc, so libfaketime cannot skew a Go process;
// this skews every wall-clock read in it: fila's, go-redis', the helper's.
func BuildSkewedWorker(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("faulttest: go env GOROOT: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "src", "time")
	dir := t.TempDir()
	timeGo, err := os.ReadFile(filepath.Join(src, "time.go"))
	if err != nil {
		t.Fatalf("faulttest: %v", err)
	}
	sysGo, err := os.ReadFile(filepath.Join(src, "sys_unix.go"))
	if err != nil {
		t.Fatalf("faulttest: %v", err)
	}
	const nowLine = "\tsec, nsec, mono := runtimeNow()\n"
	if strings.Count(string(timeGo), nowLine) != 1 || !strings.Contains(string(sysGo), "\"syscall\"") {
		t.Skip("faulttest: this Go's time package does not have the expected shape; cannot build a skewed worker")
	}
	repl := map[string]string{
		filepath.Join(src, "time.go"):     strings.Replace(string(timeGo), nowLine, skewedTimeNow, 1),
		filepath.Join(src, "sys_unix.go"): string(sysGo) + skewedTimeVar,
	}
	overlay := `{"Replace":{`
	i := 0
	for orig, content := range repl {
		p := filepath.Join(dir, filepath.Base(orig))
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatalf("faulttest: %v", err)
		}
		if i > 0 {
			overlay += ","
		}
		overlay += strconv.Quote(orig) + ":" + strconv.Quote(p)
		i++
	}
	overlay += "}}"
	ov := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ov, []byte(overlay), 0o644); err != nil {
		t.Fatalf("faulttest: %v", err)
	}
	bin := filepath.Join(dir, "faultworker-skewed")
	cmd := exec.Command("go", "build", "-overlay", ov, "-o", bin, "github.com/fila-go/fila/internal/faulttest/cmd/faultworker")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("faulttest: go build skewed faultworker: %v\n%s", err, b)
	}
	return bin
}
