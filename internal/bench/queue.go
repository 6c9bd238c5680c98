package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/attune-io/attune/internal/queue"
	"github.com/attune-io/attune/internal/store"
)

// queueCeiling measures what the work queue alone sustains on this
// machine and database: River jobs of the execution kind, each inserted in
// its own transaction (as executeAction inserts one with its execution),
// fetched, worked by a handler that does nothing, and completed, with the
// executions figure's producers, backlog, worker concurrency and windows,
// in the bench process (no HTTP, no GraphQL, no execution rows, no
// process). An execution costs all of that and more, so this over the
// fork+exec rate measured just before is the highest ratio the executions
// figure could reach with a job per execution, whatever else it does. The
// issue sets no goal for it: it says what bounds that figure.
func (b *run) queueCeiling(ctx context.Context, backend, exe string) (err error) {
	sz := b.cfg.Sizes
	parallel := b.workers()
	type round struct {
		rate, raw float64
		// jobCPU and forkCPU are the machine's CPU time per job and per
		// fork+exec (every process, from /proc/stat); ceiling is the
		// executions/s their sum allows on this machine's cores. ownCPU is
		// the part of jobCPU spent in the bench process, where River runs.
		jobCPU, ownCPU, forkCPU time.Duration
		ceiling                 float64
	}
	var rounds []round
	var ratios []float64
	var each []string
	for range sz.Rounds {
		var raw float64
		forkCPU, err := cpuPer(func() (float64, error) {
			var err error
			raw, err = forkExecRate(ctx, exe, parallel, sz.RawWindow)
			return raw * sz.RawWindow.Seconds(), err
		})
		if err != nil {
			return err
		}
		rate, jobCPU, ownCPU, err := b.queueRate(ctx, backend, parallel)
		if err != nil {
			return fmt.Errorf("queue ceiling: %w", err)
		}
		r := round{rate: rate, raw: raw, jobCPU: jobCPU, ownCPU: ownCPU, forkCPU: forkCPU}
		if jobCPU > 0 && forkCPU > 0 {
			r.ceiling = float64(runtime.NumCPU()) / (jobCPU + forkCPU).Seconds()
		}
		b.logf("queue alone %.0f jobs/s, raw fork+exec %.0f/s just before (%.2f×); CPU per job %s (%s in River's process), per fork+exec %s: at most %.0f executions/s (%.2f× fork+exec) with a job and a process each",
			rate, raw, rate/raw, jobCPU.Round(time.Microsecond), ownCPU.Round(time.Microsecond), forkCPU.Round(time.Microsecond), r.ceiling, r.ceiling/raw)
		rounds, ratios = append(rounds, r), append(ratios, r.ceiling/raw)
		each = append(each, fmt.Sprintf("%.2f× (%.0f/s against %.0f/s)", r.ceiling/raw, r.ceiling, raw))
	}
	m := rounds[MedianIndex(ratios)]
	b.report.add(Figure{
		Name: "queue alone: jobs/s, each inserted in its own transaction, fetched, worked by a no-op, completed", Backend: backend,
		Value:    fmt.Sprintf("%.0f/s; CPU %s a job (%s in River's process)", m.rate, m.jobCPU.Round(time.Microsecond), m.ownCPU.Round(time.Microsecond)),
		Baseline: fmt.Sprintf("%.0f/s fork+exec ×%d; CPU %s a process", m.raw, parallel, m.forkCPU.Round(time.Microsecond)),
		Ratio:    fmt.Sprintf("executions/s ≤ %.0f/s, %.2f× fork+exec", m.ceiling, m.ceiling/m.raw),
		Detail: fmt.Sprintf("River as the server configures it (internal/queue, %d workers), driven from the bench process by %d goroutines keeping ≤ %d jobs waiting, over %s after %s; CPU is the whole machine's busy time (/proc/stat, every process, the database's included) over the window, per job and per fork+exec of the baseline; an execution costs a job, a process and more, so %d cores divided by the two CPU times bound executions/s; %s; informational (no goal): the highest executions/s ratio a job per execution leaves reachable",
			parallel, loadProducers, loadBacklog, sz.ExecWindow, sz.ExecWarmup, runtime.NumCPU(), b.roundsHow("bounds", each)),
	})
	return nil
}

// cpuPer runs f, which returns how many operations it did, and returns
// the machine's busy CPU time (every process, from /proc/stat) per
// operation; zero where /proc/stat cannot be read.
func cpuPer(f func() (float64, error)) (time.Duration, error) {
	b0, ok0 := busyCPU()
	n, err := f()
	b1, ok1 := busyCPU()
	if err != nil || !ok0 || !ok1 || n <= 0 {
		return 0, err
	}
	return time.Duration(float64(b1-b0) / n), nil
}

// selfCPU is this process's CPU time (user and system) so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// busyCPU is the machine's CPU time spent not idle since boot, summed over
// its cores, from /proc/stat.
func busyCPU() (time.Duration, bool) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	return parseBusy(string(raw))
}

// parseBusy reads the busy time from /proc/stat's first line: user, nice,
// system, irq and softirq (not idle, not iowait), in USER_HZ ticks of 10 ms.
func parseBusy(stat string) (time.Duration, bool) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, false
	}
	var busy int64
	for i, v := range f[1:8] { // user nice system idle iowait irq softirq
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return time.Duration(busy) * userTick, true
}

// userTick is the kernel's USER_HZ tick, the unit of /proc's CPU times.
const userTick = 10 * time.Millisecond

// queueRate runs one round of queueCeiling on a fresh database and returns
// the jobs worked per second, the machine's CPU time per job and, of that,
// the bench process's own (River's side: the rest is the database's, on
// PostgreSQL, and the kernel's).
func (b *run) queueRate(ctx context.Context, backend string, parallel int) (rate float64, perJob, ownPerJob time.Duration, err error) {
	sz := b.cfg.Sizes
	db, err := b.newDatabase(ctx, backend, "queue")
	if err != nil {
		return 0, 0, 0, err
	}
	defer func() { err = errors.Join(err, db.drop()) }()
	sdb, err := store.Open(ctx, db.url, "")
	if err != nil {
		return 0, 0, 0, err
	}
	defer sdb.Close()
	if err := sdb.Migrate(ctx); err != nil {
		return 0, 0, 0, err
	}
	if err := queue.Migrate(ctx, sdb); err != nil {
		return 0, 0, 0, err
	}
	var worked atomic.Int64
	h := &queue.Handlers{
		Execution: func(context.Context, int) error { worked.Add(1); return nil },
		Evaluate:  func(context.Context, []int) error { return nil },
	}
	q, err := queue.New(ctx, sdb, queue.Config{
		DatabaseURL: db.url, Concurrency: parallel, RescueAfter: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, h)
	if err != nil {
		return 0, 0, 0, err
	}
	defer q.Close()
	if err := q.Start(ctx); err != nil {
		return 0, 0, 0, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		err = errors.Join(err, q.Stop(sctx))
	}()

	var inserted atomic.Int64
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, loadProducers)
	var wg sync.WaitGroup
	produce(pctx, stop, &wg, errc, func() bool { return inserted.Load()-worked.Load() > loadBacklog },
		func(ctx context.Context) error {
			id := int(inserted.Add(1))
			return sdb.InTx(ctx, func(tx *store.Tx) error { return q.InsertExecutionTx(ctx, tx, id) })
		})
	_ = sleep(pctx, sz.ExecWarmup)
	var n0, n1 int64
	var t0, t1 time.Time
	var self time.Duration
	perJob, _ = cpuPer(func() (float64, error) {
		n0, t0 = worked.Load(), time.Now()
		s0 := selfCPU()
		_ = sleep(pctx, sz.ExecWindow)
		n1, t1 = worked.Load(), time.Now()
		self = selfCPU() - s0
		return float64(n1 - n0), nil
	})
	if n1 > n0 {
		ownPerJob = self / time.Duration(n1-n0)
	}
	stop()
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return 0, 0, 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, 0, err
	}
	return float64(n1-n0) / t1.Sub(t0).Seconds(), perJob, ownPerJob, nil
}
