// asynq throughput/latency bench, the peer fila-bench -peers runs. Talks only to 127.0.0.1:$REDIS_PORT (default 6390).
// Usage: go build -o asynqbench . && ./asynqbench [case ...]   cases: add par proc lat (default: all)
// Env: N (20000), RUNS (3), LAT_N (1000), LAT_GAP_MS (5), OUT_JSON
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

var (
	port    = envInt("REDIS_PORT", 6390)
	addr    = fmt.Sprintf("127.0.0.1:%d", port)
	N       = envInt("N", 20000)
	RUNS    = envInt("RUNS", 3)
	LATN    = envInt("LAT_N", 1000)
	LATGAP  = time.Duration(envInt("LAT_GAP_MS", 5)) * time.Millisecond
	ropt    = asynq.RedisClientOpt{Addr: addr}
	admin   = redis.NewClient(&redis.Options{Addr: addr})
	qseq    int
	results = map[string]any{}
)

func envInt(k string, d int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return v
	}
	return d
}
func freshName(tag string) string {
	qseq++
	return fmt.Sprintf("bench-%s-%d-%d-%d", tag, os.Getpid(), time.Now().UnixNano(), qseq)
}
func median(a []float64) float64 {
	s := append([]float64(nil), a...)
	sort.Float64s(s)
	return s[len(s)/2]
}
func pct(a []float64, p float64) float64 {
	s := append([]float64(nil), a...)
	sort.Float64s(s)
	i := int(p / 100 * float64(len(s)))
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[i]
}

var cpuRe = regexp.MustCompile(`used_cpu_(sys|user):([0-9.]+)`)

func redisCPU() float64 {
	info := admin.Info(context.Background(), "cpu").Val()
	t := 0.0
	for _, m := range cpuRe.FindAllStringSubmatch(info, -1) {
		f, _ := strconv.ParseFloat(m[2], 64)
		t += f
	}
	return t
}
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func task(i int) *asynq.Task { return asynq.NewTask("job", []byte(strconv.Itoa(i))) }

// (a) sequential Enqueue
func caseAdd() float64 {
	q := freshName("add")
	c := asynq.NewClient(ropt)
	defer c.Close()
	if _, err := c.Enqueue(task(-1), asynq.Queue(q)); err != nil { // warm-up: connect, load script
		panic(err)
	}
	t0 := time.Now()
	for i := 0; i < N; i++ {
		if _, err := c.Enqueue(task(i), asynq.Queue(q)); err != nil {
			panic(err)
		}
	}
	return float64(N) / time.Since(t0).Seconds()
}

// (b') NOT batch (asynq has no batch enqueue): Enqueue from `par` goroutines concurrently
func casePar(par int) float64 {
	q := freshName("par")
	c := asynq.NewClient(ropt)
	defer c.Close()
	c.Enqueue(task(-1), asynq.Queue(q))
	t0 := time.Now()
	enqueueParallel(c, q, par, nil)
	return float64(N) / time.Since(t0).Seconds()
}

func enqueueParallel(c *asynq.Client, q string, par int, extra []asynq.Option) {
	var next atomic.Int64
	var wg sync.WaitGroup
	opts := append([]asynq.Option{asynq.Queue(q)}, extra...)
	for g := 0; g < par; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= N {
					return
				}
				if _, err := c.Enqueue(task(i), opts...); err != nil {
					panic(err)
				}
			}
		}()
	}
	wg.Wait()
}

type procRes struct{ rateDrained, rateHandler, cpuClient, cpuRedis float64 }

// (c) process N pre-enqueued tasks; timed from srv.Start to (pending==0 && active==0) after the N-th handler call
func caseProc(conc int, keep bool) procRes {
	q := freshName(fmt.Sprintf("proc-c%d", conc))
	c := asynq.NewClient(ropt)
	var extra []asynq.Option
	if keep {
		extra = append(extra, asynq.Retention(24*time.Hour))
	}
	enqueueParallel(c, q, 16, extra)
	c.Close()
	ctx := context.Background()
	if n := admin.LLen(ctx, "asynq:{"+q+"}:pending").Val(); n != int64(N) {
		panic(fmt.Sprintf("pending=%d", n))
	}
	var done atomic.Int64
	handlerDone := make(chan time.Time, 1)
	srv := asynq.NewServer(ropt, asynq.Config{Concurrency: conc, Queues: map[string]int{q: 1}, LogLevel: asynq.WarnLevel})
	h := asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		if done.Add(1) == int64(N) {
			handlerDone <- time.Now()
		}
		return nil
	})
	r0, c0 := redisCPU(), selfCPU()
	t0 := time.Now()
	if err := srv.Start(h); err != nil {
		panic(err)
	}
	th := <-handlerDone
	for admin.LLen(ctx, "asynq:{"+q+"}:active").Val() != 0 || admin.LLen(ctx, "asynq:{"+q+"}:pending").Val() != 0 {
		time.Sleep(time.Millisecond)
	}
	td := time.Now()
	c1, r1 := selfCPU(), redisCPU()
	srv.Shutdown()
	return procRes{float64(N) / td.Sub(t0).Seconds(), float64(N) / th.Sub(t0).Seconds(), c1 - c0, r1 - r0}
}

type latRes struct{ p50, p99, max float64 }

// (d) idle server (concurrency 10); enqueue LATN tasks LATGAP apart; latency = Enqueue-call start -> handler entry
func caseLat(checkInterval time.Duration) latRes {
	q := freshName("lat")
	c := asynq.NewClient(ropt)
	defer c.Close()
	sent := make([]time.Time, LATN)
	lat := make([]float64, LATN)
	var mu sync.Mutex
	var got int
	all := make(chan struct{})
	srv := asynq.NewServer(ropt, asynq.Config{Concurrency: 10, Queues: map[string]int{q: 1}, LogLevel: asynq.WarnLevel, TaskCheckInterval: checkInterval})
	h := asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		now := time.Now()
		i, _ := strconv.Atoi(string(t.Payload()))
		mu.Lock()
		lat[i] = float64(now.Sub(sent[i]).Microseconds()) / 1000
		got++
		if got == LATN {
			close(all)
		}
		mu.Unlock()
		return nil
	})
	if err := srv.Start(h); err != nil {
		panic(err)
	}
	c.Enqueue(task(-1), asynq.Queue("warm-"+q)) // connect client
	time.Sleep(2 * time.Second)                 // let it go idle
	t0 := time.Now()
	for i := 0; i < LATN; i++ {
		if d := time.Until(t0.Add(time.Duration(i) * LATGAP)); d > 0 {
			time.Sleep(d)
		}
		mu.Lock()
		sent[i] = time.Now()
		mu.Unlock()
		go func(i int) { // not awaited: keep cadence (like the BullMQ bench)
			if _, err := c.Enqueue(task(i), asynq.Queue(q)); err != nil {
				panic(err)
			}
		}(i)
	}
	<-all
	srv.Shutdown()
	mx := 0.0
	for _, v := range lat {
		if v > mx {
			mx = v
		}
	}
	return latRes{pct(lat, 50), pct(lat, 99), mx}
}

func rec(key string, vals []float64, unit string, extra map[string]float64) {
	m := map[string]any{"median": median(vals), "runs": vals, "unit": unit}
	ex := ""
	for _, k := range []string{"handler_rate", "cpu_client_s", "cpu_redis_s"} {
		if v, ok := extra[k]; ok {
			m[k] = v
			ex += fmt.Sprintf(" %s=%.2f", k, v)
		}
	}
	results[key] = m
	fmt.Printf("%-44s median %9.2f %s  runs=%.2f%s\n", key, median(vals), unit, vals, ex)
}

func main() {
	want := func(c string) bool {
		if len(os.Args) == 1 {
			return true
		}
		for _, a := range os.Args[1:] {
			if a == c {
				return true
			}
		}
		return false
	}
	ctx := context.Background()
	admin.FlushDB(ctx)
	if want("add") {
		var v []float64
		for r := 0; r < RUNS; r++ {
			v = append(v, caseAdd())
			admin.FlushDB(ctx)
		}
		rec("a_enqueue_sequential", v, "adds/s", nil)
	}
	fmt.Println("b_batch: asynq v0.26.0 has no batch enqueue API (only Enqueue/EnqueueContext) -> skipped")
	if want("par") {
		var v []float64
		for r := 0; r < RUNS; r++ {
			v = append(v, casePar(50))
			admin.FlushDB(ctx)
		}
		rec("b2_enqueue_50_goroutines(not batch)", v, "adds/s", nil)
	}
	if want("proc") {
		for _, keep := range []bool{false, true} {
			for _, conc := range []int{1, 10, 50} {
				var v, vh, cc, cr []float64
				for r := 0; r < RUNS; r++ {
					p := caseProc(conc, keep)
					v, vh, cc, cr = append(v, p.rateDrained), append(vh, p.rateHandler), append(cc, p.cpuClient), append(cr, p.cpuRedis)
					admin.FlushDB(ctx)
				}
				name := "deleteOnComplete(default)"
				if keep {
					name = "retention24h"
				}
				rec(fmt.Sprintf("c_proc_c%d_%s", conc, name), v, "jobs/s",
					map[string]float64{"handler_rate": median(vh), "cpu_client_s": median(cc), "cpu_redis_s": median(cr)})
			}
		}
	}
	if want("lat") {
		for _, ci := range []time.Duration{0, 10 * time.Millisecond} {
			var p50, p99, mx []float64
			for r := 0; r < RUNS; r++ {
				l := caseLat(ci)
				p50, p99, mx = append(p50, l.p50), append(p99, l.p99), append(mx, l.max)
				admin.FlushDB(ctx)
			}
			tag := "TaskCheckInterval=default(1s)"
			if ci > 0 {
				tag = "TaskCheckInterval=" + ci.String()
			}
			rec("d_latency_p50_"+tag, p50, "ms", nil)
			rec("d_latency_p99_"+tag, p99, "ms", nil)
			rec("d_latency_max_"+tag, mx, "ms", nil)
		}
	}
	out := os.Getenv("OUT_JSON")
	if out == "" {
		out = fmt.Sprintf("results-%d.json", time.Now().Unix())
	}
	b, _ := json.MarshalIndent(map[string]any{"asynq": "v0.26.0", "N": N, "RUNS": RUNS, "results": results}, "", "  ")
	os.WriteFile(out, b, 0o644)
	fmt.Println("wrote", out)
}
