// Command jobs-bench compares appkernel/jobs with github.com/hibiken/asynq
// on the same Redis, in one run:
//
//   - burn-down: N no-op jobs already enqueued, one worker at concurrency C;
//     the clock stops when Redis shows no job pending or running, i.e.
//     every completion has been written;
//   - enqueue throughput: one serial producer, then 64 concurrent ones;
//   - enqueue→start latency (p50/p99) at a steady rate of half the slower
//     system's burn-down rate at concurrency 10, both at default settings
//     but for concurrency.
//
// Each measurement runs -runs times (systems alternate who goes first) and
// the medians are printed as a Markdown table.
//
//	cd bench/jobs && go run . -redis redis://127.0.0.1:6379/9
//
// It only touches keys under its own random prefix (appkernel) or its own
// random queue name (asynq) and deletes them afterwards.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"appkernel/jobs"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

var (
	redisURL   = flag.String("redis", "redis://127.0.0.1:6379/9", "Redis to benchmark against (use a DB of its own)")
	nJobs      = flag.Int("n", 100000, "jobs per burn-down")
	runs       = flag.Int("runs", 3, "repetitions of each measurement (medians are reported)")
	concs      = flag.String("conc", "10,100", "worker concurrencies for the burn-down")
	nSerial    = flag.Int("enqueue-serial", 10000, "jobs enqueued by the serial producer")
	nParallel  = flag.Int("enqueue-parallel", 50000, "jobs enqueued by the 64 concurrent producers")
	latSeconds = flag.Float64("latency-seconds", 5, "duration of each latency run")
	only       = flag.String("only", "burn,enqueue,latency", "which measurements to run")
)

// system is one queue implementation under test, in a namespace of its own.
type system interface {
	Name() string
	Enqueue(ctx context.Context, payload []byte) error
	Fill(ctx context.Context, n int) error
	Remaining(ctx context.Context) int64
	StartWorker(conc int, handle func(payload []byte)) (stop func())
	Cleanup()
}

func main() {
	flag.Parse()
	opt, err := redis.ParseURL(*redisURL)
	if err != nil {
		log.Fatal(err)
	}
	admin := redis.NewClient(opt)
	defer admin.Close()
	if err := admin.Ping(context.Background()).Err(); err != nil {
		log.Fatalf("redis: %v", err)
	}
	factories := []func() system{
		func() system { return newAppkernel(opt) },
		func() system { return newAsynq(opt, admin) },
	}
	names := []string{"appkernel", "asynq"}
	fmt.Printf("# jobs benchmark: appkernel/jobs vs asynq\n\n")
	fmt.Printf("%s, GOMAXPROCS=%d, %s, redis %s, runs=%d (medians)\n\n", runtime.Version(), runtime.GOMAXPROCS(0), time.Now().UTC().Format(time.RFC3339), redisVersion(admin), *runs)

	burnMedian := map[string]float64{}
	if strings.Contains(*only, "burn") {
		fmt.Printf("## Burn-down of %d no-op jobs (jobs/s, completion written)\n\n", *nJobs)
		fmt.Printf("| concurrency | appkernel | asynq | ratio | all runs (appkernel / asynq) |\n|---|---|---|---|---|\n")
		for _, cs := range strings.Split(*concs, ",") {
			c, err := strconv.Atoi(strings.TrimSpace(cs))
			if err != nil {
				log.Fatal(err)
			}
			res := map[string][]float64{}
			for r := range *runs {
				for k := range factories {
					i := (k + r) % len(factories) // alternate who goes first
					rate := burn(factories[i](), c, *nJobs)
					res[names[i]] = append(res[names[i]], rate)
					log.Printf("burn-down c=%d run %d %s: %.0f jobs/s", c, r+1, names[i], rate)
				}
			}
			a, q := median(res["appkernel"]), median(res["asynq"])
			burnMedian[fmt.Sprintf("appkernel/%d", c)] = a
			burnMedian[fmt.Sprintf("asynq/%d", c)] = q
			fmt.Printf("| %d | %.0f | %.0f | **%.2fx** | %s / %s |\n", c, a, q, a/q, fmts(res["appkernel"]), fmts(res["asynq"]))
		}
		fmt.Println()
	}

	if strings.Contains(*only, "enqueue") {
		fmt.Printf("## Enqueue throughput (jobs/s)\n\n")
		fmt.Printf("| producers | appkernel | asynq | ratio | all runs (appkernel / asynq) |\n|---|---|---|---|---|\n")
		for _, p := range []struct {
			workers, n int
		}{{1, *nSerial}, {64, *nParallel}} {
			res := map[string][]float64{}
			for r := range *runs {
				for k := range factories {
					i := (k + r) % len(factories)
					rate := enqueueRate(factories[i](), p.workers, p.n)
					res[names[i]] = append(res[names[i]], rate)
					log.Printf("enqueue p=%d run %d %s: %.0f jobs/s", p.workers, r+1, names[i], rate)
				}
			}
			a, q := median(res["appkernel"]), median(res["asynq"])
			fmt.Printf("| %d | %.0f | %.0f | **%.2fx** | %s / %s |\n", p.workers, a, q, a/q, fmts(res["appkernel"]), fmts(res["asynq"]))
		}
		fmt.Println()
	}

	if strings.Contains(*only, "latency") {
		base := min(burnMedian["appkernel/10"], burnMedian["asynq/10"])
		if base == 0 {
			base = float64(burn(newAsynq(opt, admin), 10, 20000))
		}
		rate := base / 2
		fmt.Printf("## Enqueue→start latency at %.0f jobs/s (half the slower burn-down rate at concurrency 10), concurrency 10, defaults otherwise\n\n", rate)
		fmt.Printf("| system | p50 | p99 | max |\n|---|---|---|---|\n")
		res := map[string][][3]time.Duration{}
		for r := range *runs {
			for k := range factories {
				i := (k + r) % len(factories)
				l := latency(factories[i](), rate, *latSeconds)
				res[names[i]] = append(res[names[i]], l)
				log.Printf("latency run %d %s: p50 %s p99 %s max %s", r+1, names[i], l[0], l[1], l[2])
			}
		}
		for _, n := range names {
			var p50, p99, mx []float64
			for _, l := range res[n] {
				p50 = append(p50, float64(l[0]))
				p99 = append(p99, float64(l[1]))
				mx = append(mx, float64(l[2]))
			}
			fmt.Printf("| %s | %s | %s | %s |\n", n, dur(median(p50)), dur(median(p99)), dur(median(mx)))
		}
		fmt.Println()
	}
}

// burn enqueues n jobs, then times one worker draining them.
func burn(s system, conc, n int) float64 {
	defer s.Cleanup()
	ctx := context.Background()
	if err := s.Fill(ctx, n); err != nil {
		log.Fatalf("%s fill: %v", s.Name(), err)
	}
	if got := s.Remaining(ctx); got != int64(n) {
		log.Fatalf("%s: %d jobs queued, want %d", s.Name(), got, n)
	}
	start := time.Now()
	stop := s.StartWorker(conc, func([]byte) {})
	for s.Remaining(ctx) > 0 {
		time.Sleep(2 * time.Millisecond)
	}
	el := time.Since(start)
	stop()
	return float64(n) / el.Seconds()
}

// enqueueRate times producers enqueueing n jobs in total.
func enqueueRate(s system, producers, n int) float64 {
	defer s.Cleanup()
	ctx := context.Background()
	payload := []byte(`{"user":"u_123","document":"d_456"}`)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := s.Enqueue(ctx, payload); err != nil {
					log.Fatalf("%s enqueue: %v", s.Name(), err)
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// latency offers jobs at rate for secs seconds to a worker at concurrency
// 10 and returns p50, p99 and max of enqueue→handler start.
func latency(s system, rate, secs float64) [3]time.Duration {
	defer s.Cleanup()
	ctx := context.Background()
	total := int(rate * secs)
	lat := make([]time.Duration, 0, total)
	var mu sync.Mutex
	var seen atomic.Int64
	stop := s.StartWorker(10, func(p []byte) {
		now := time.Now().UnixNano()
		var v struct{ T int64 }
		_ = json.Unmarshal(p, &v)
		mu.Lock()
		lat = append(lat, time.Duration(now-v.T))
		mu.Unlock()
		seen.Add(1)
	})
	time.Sleep(1500 * time.Millisecond) // both idle before the load starts
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(total) {
					return
				}
				if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
					time.Sleep(d)
				}
				p := fmt.Appendf(nil, `{"t":%d}`, time.Now().UnixNano())
				if err := s.Enqueue(ctx, p); err != nil {
					log.Fatalf("%s enqueue: %v", s.Name(), err)
				}
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for seen.Load() < int64(total) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	if len(lat) == 0 {
		return [3]time.Duration{}
	}
	return [3]time.Duration{lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]}
}

// ---- appkernel ----

type appkernelSystem struct {
	rdb    *redis.Client
	prefix string
	client *jobs.Client
	reg    *jobs.Registry
	handle func([]byte)
}

func newAppkernel(opt *redis.Options) *appkernelSystem {
	o := *opt
	s := &appkernelSystem{rdb: redis.NewClient(&o), prefix: "akbench:" + randHex() + ":", reg: jobs.NewRegistry()}
	s.reg.Task("noop", func(ctx context.Context, job *jobs.Job) (any, error) {
		s.handle(job.Payload)
		return nil, nil
	})
	s.client = jobs.NewClient(s.rdb, jobs.WithPrefix(s.prefix), jobs.WithRegistry(s.reg))
	return s
}

func (s *appkernelSystem) Name() string { return "appkernel" }

func (s *appkernelSystem) Enqueue(ctx context.Context, p []byte) error {
	_, err := s.client.Enqueue(ctx, "noop", json.RawMessage(p))
	return err
}

func (s *appkernelSystem) Fill(ctx context.Context, n int) error {
	for n > 0 {
		k := min(n, 1000)
		reqs := make([]jobs.EnqueueRequest, k)
		for i := range reqs {
			reqs[i] = jobs.EnqueueRequest{Name: "noop", Payload: json.RawMessage(`{}`)}
		}
		if _, err := s.client.EnqueueMany(ctx, reqs...); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func (s *appkernelSystem) Remaining(ctx context.Context) int64 {
	pipe := s.rdb.Pipeline()
	a := pipe.LLen(ctx, s.prefix+"{default}:pending")
	b := pipe.ZCard(ctx, s.prefix+"{default}:active")
	c := pipe.ZCard(ctx, s.prefix+"{default}:scheduled")
	_, _ = pipe.Exec(ctx)
	return a.Val() + b.Val() + c.Val()
}

func (s *appkernelSystem) StartWorker(conc int, handle func([]byte)) func() {
	s.handle = handle
	w := jobs.NewWorker(s.rdb, s.reg, jobs.WorkerOptions{
		Concurrency: conc, Prefix: s.prefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err := w.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Stop(ctx)
	}
}

func (s *appkernelSystem) Cleanup() {
	deleteByPattern(s.rdb, s.prefix+"*")
	_ = s.rdb.Close()
}

// ---- asynq ----

type asynqSystem struct {
	opt    asynq.RedisClientOpt
	admin  *redis.Client
	queue  string
	client *asynq.Client
}

func newAsynq(opt *redis.Options, admin *redis.Client) *asynqSystem {
	ro := asynq.RedisClientOpt{Addr: opt.Addr, DB: opt.DB, Password: opt.Password, Username: opt.Username}
	return &asynqSystem{opt: ro, admin: admin, queue: "bench-" + randHex(), client: asynq.NewClient(ro)}
}

func (s *asynqSystem) Name() string { return "asynq" }

func (s *asynqSystem) Enqueue(ctx context.Context, p []byte) error {
	_, err := s.client.EnqueueContext(ctx, asynq.NewTask("noop", p), asynq.Queue(s.queue))
	return err
}

func (s *asynqSystem) Fill(ctx context.Context, n int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := s.Enqueue(ctx, []byte(`{}`)); err != nil {
					firstErr.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	return nil
}

func (s *asynqSystem) Remaining(ctx context.Context) int64 {
	pipe := s.admin.Pipeline()
	a := pipe.LLen(ctx, "asynq:{"+s.queue+"}:pending")
	b := pipe.LLen(ctx, "asynq:{"+s.queue+"}:active")
	_, _ = pipe.Exec(ctx)
	return a.Val() + b.Val()
}

func (s *asynqSystem) StartWorker(conc int, handle func([]byte)) func() {
	opt := s.opt
	opt.PoolSize = conc + 10 // one connection per processing goroutine: no pool starvation
	srv := asynq.NewServer(opt, asynq.Config{
		Concurrency: conc,
		Queues:      map[string]int{s.queue: 1},
		LogLevel:    asynq.FatalLevel,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc("noop", func(ctx context.Context, t *asynq.Task) error {
		handle(t.Payload())
		return nil
	})
	if err := srv.Start(mux); err != nil {
		log.Fatal(err)
	}
	return srv.Shutdown
}

func (s *asynqSystem) Cleanup() {
	_ = s.client.Close()
	deleteByPattern(s.admin, "asynq:{"+s.queue+"}*")
	s.admin.SRem(context.Background(), "asynq:queues", s.queue)
}

// ---- helpers ----

func deleteByPattern(rdb *redis.Client, pattern string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, pattern, 2000).Iterator()
	var keys []string
	flush := func() {
		if len(keys) > 0 {
			rdb.Unlink(ctx, keys...)
			keys = keys[:0]
		}
	}
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) >= 1000 {
			flush()
		}
	}
	flush()
}

func randHex() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func redisVersion(rdb *redis.Client) string {
	info, _ := rdb.Info(context.Background(), "server").Result()
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
			return v
		}
	}
	return "?"
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmts(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(parts, ", ")
}

func dur(ns float64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
