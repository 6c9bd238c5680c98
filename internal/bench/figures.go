package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"

	"github.com/attune-io/attune/internal/queue"
	"github.com/attune-io/attune/internal/store"
)

// backend measures every figure on one storage backend.
func (b *run) backend(ctx context.Context, backend string) (err error) {
	b.logf("== %s", backend)
	db, err := b.newDatabase(ctx, backend, "main")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.drop()) }()
	dataDir := filepath.Join(b.tmp, backend+"-main")
	// sql_stats: the load figures say how busy the database's writing
	// pool was (statement counting itself is an atomic add).
	s, c, err := b.start(ctx, db, dataDir, "", "ATTUNE_DEBUG_SQL_STATS=true")
	if err != nil {
		return err
	}
	defer s.stop()
	if b.wants("memory") {
		if err := b.idleMemory(ctx, backend, s); err != nil {
			return err
		}
	}
	if b.wants("packs") {
		if err := b.packInstalls(ctx, backend, c); err != nil {
			return err
		}
	}
	load := b.wants("executions") || b.wants("memory") || b.wants("isolation")
	if load || b.wants("events") {
		// Its actions and triggers serve the load figures.
		if err := installPack(ctx, c, b.benchDir); err != nil {
			return err
		}
	}
	var loaded int64
	// The installed copy: packs live in a directory per version
	// (<packs>/<ref>/<checksum>), or directly in <packs>/<ref> before.
	trueExe := filepath.Join(dataDir, "packs", benchPack, "actions", "true")
	if found, _ := filepath.Glob(filepath.Join(dataDir, "packs", benchPack, "*", "actions", "true")); len(found) > 0 {
		trueExe = found[0]
	}
	if load {
		loadCtx, stopSampling := context.WithCancel(ctx)
		peak := s.peakRSS(loadCtx, 100*time.Millisecond)
		var err error
		if b.wants("executions") || b.wants("memory") {
			err = b.executions(ctx, backend, s, c, trueExe)
			if err == nil {
				err = b.webhooks(ctx, backend, s, c)
			}
		}
		if err == nil && b.wants("isolation") {
			err = b.isolationCost(ctx, backend, s, c)
		}
		stopSampling()
		loaded = <-peak
		if err != nil {
			return err
		}
	}
	s.stop()
	if b.wants("executions") {
		if err := b.queueCeiling(ctx, backend, trueExe); err != nil {
			return err
		}
	}
	if b.wants("events") || b.wants("memory") {
		evalPeak, err := b.events(ctx, backend, db, dataDir)
		if err != nil {
			return err
		}
		loaded = max(loaded, evalPeak)
	}
	if b.wants("memory") {
		b.loadedMemory(backend, loaded)
	}
	if b.wants("workflows") {
		if err := b.workflows(ctx, backend); err != nil {
			return err
		}
	}
	if !b.wants("listing") {
		return nil
	}
	return b.listing(ctx, backend)
}

const mib = 1 << 20

func (b *run) idleMemory(ctx context.Context, backend string, s *server) error {
	// Let start-up work (core pack, migrations, first GC) settle.
	if err := sleep(ctx, b.cfg.Sizes.IdleSettle); err != nil {
		return err
	}
	v, err := s.rss()
	if err != nil {
		return err
	}
	b.logf("idle RSS %.1f MiB", float64(v)/mib)
	b.report.add(Figure{
		Name: "resident memory, idle", Backend: backend,
		Value: fmt.Sprintf("%.1f MiB", float64(v)/mib), Goal: "< 60 MB",
		Met: verdict(float64(v) < 60e6), Detail: fmt.Sprintf("VmRSS %s after start, all roles", b.cfg.Sizes.IdleSettle),
	})
	return nil
}

func (b *run) loadedMemory(backend string, v int64) {
	b.logf("peak RSS under load %.1f MiB", float64(v)/mib)
	b.report.add(Figure{
		Name: "resident memory, at max throughput", Backend: backend,
		Value: fmt.Sprintf("%.1f MiB", float64(v)/mib), Goal: "< 200 MB",
		Met:    verdict(float64(v) < 200e6),
		Detail: "highest VmRSS sampled every 100 ms during the executions, webhook and rule-evaluation figures",
	})
}

// installPack installs (or reinstalls) the pack at dir.
func installPack(ctx context.Context, c *client, dir string) error {
	return c.do(ctx, `mutation($s: String!) { installPack(input: {source: $s, force: true}) { pack { ref } } }`,
		map[string]any{"s": dir}, nil)
}

// packInstalls times installs of the shell-only and the Python pack.
func (b *run) packInstalls(ctx context.Context, backend string, c *client) error {
	shell, err := timeInstalls(ctx, c, b.shellDir, shellPack, b.cfg.Sizes.ShellInstalls)
	if err != nil {
		return err
	}
	b.logf("shell pack install median %s", shell)
	b.report.add(Figure{
		Name: "pack install, shell-only", Backend: backend,
		Value: ms(shell), Goal: "< 200 ms", Met: verdict(shell < 200*time.Millisecond),
		Detail: fmt.Sprintf("median of %d installPack round trips, each after deletePack", b.cfg.Sizes.ShellInstalls),
	})
	if b.cfg.Sizes.PythonInstalls == 0 {
		return nil
	}
	py, err := timeInstalls(ctx, c, b.cfg.PythonPack, "python_example", b.cfg.Sizes.PythonInstalls)
	if err != nil {
		return err
	}
	b.logf("python pack install median %s", py)
	b.pythonInstall[backend] = py
	return nil
}

// timeInstalls returns the median time of n fresh installs of the pack at
// dir: each deletes the previous one first, so nothing (such as a Python
// environment) is reused.
func timeInstalls(ctx context.Context, c *client, dir, ref string, n int) (time.Duration, error) {
	var times []time.Duration
	for i := range n {
		if i > 0 {
			err := c.do(ctx, `mutation($r: String!) { deletePack(input: {ref: $r}) { deletedRef } }`, map[string]any{"r": ref}, nil)
			if err != nil {
				return 0, err
			}
		}
		t0 := time.Now()
		if err := installPack(ctx, c, dir); err != nil {
			return 0, err
		}
		times = append(times, time.Since(t0))
	}
	return Percentile(times, 0.5), nil
}

// pythonBaselines times a plain venv + pip install of the Python pack's
// wheel and reports it next to each backend's install time.
func (b *run) pythonBaselines(ctx context.Context) error {
	wheels := filepath.Join(b.cfg.PythonPack, "wheels")
	req := filepath.Join(b.cfg.PythonPack, "requirements.txt")
	var plain, lean []time.Duration
	for i := range b.cfg.Sizes.PythonInstalls {
		venv := filepath.Join(b.tmp, fmt.Sprintf("venv-%d", i))
		d, err := timeCommands(ctx,
			[]string{b.cfg.Python, "-m", "venv", venv},
			[]string{filepath.Join(venv, "bin", "pip"), "install", "--disable-pip-version-check", "--no-input",
				"--no-index", "--find-links", wheels, "-r", req})
		if err != nil {
			return err
		}
		plain = append(plain, d)
		lean1 := venv + "-lean"
		d, err = timeCommands(ctx,
			[]string{b.cfg.Python, "-m", "venv", "--without-pip", lean1},
			[]string{b.cfg.Python, "-m", "pip", "--python", filepath.Join(lean1, "bin", "python"), "install",
				"--disable-pip-version-check", "--no-input", "--no-index", "--find-links", wheels, "-r", req})
		if err != nil {
			return err
		}
		lean = append(lean, d)
	}
	base, fast := Percentile(plain, 0.5), Percentile(lean, 0.5)
	b.logf("python baselines: venv+pip %s, venv --without-pip + outer pip %s", base, fast)
	for _, backend := range []string{"sqlite", "postgres"} {
		py, ok := b.pythonInstall[backend]
		if !ok {
			continue
		}
		ratio := py.Seconds() / base.Seconds()
		b.report.add(Figure{
			Name: "pack install, Python with one wheel", Backend: backend,
			Value: ms(py), Baseline: ms(base) + " (venv + pip)", Ratio: fmt.Sprintf("%.2f×", ratio),
			Goal: "≤ 1.2 × baseline", Met: verdict(ratio <= 1.2),
			Detail: fmt.Sprintf("median of %d installPack round trips, each after deletePack (the environment is built anew); the fastest equivalent by hand (venv --without-pip, outer pip --python) took %s (%.2f×)",
				len(plain), ms(fast), py.Seconds()/fast.Seconds()),
		})
	}
	return nil
}

// timeCommands runs the commands one after the other and returns the time
// they took together.
func timeCommands(ctx context.Context, cmds ...[]string) (time.Duration, error) {
	t0 := time.Now()
	for _, argv := range cmds {
		if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("running %s: %w\n%s", strings.Join(argv, " "), err, out)
		}
	}
	return time.Since(t0), nil
}

// forkExecRate is how many times per second Go can start and wait for the
// executable, with the given parallelism: the ceiling for any runner.
func forkExecRate(ctx context.Context, path string, parallel int, window time.Duration) (float64, error) {
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	deadline := time.Now().Add(window)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := exec.Command(path).Run(); err != nil {
					once.Do(func() { firstErr = fmt.Errorf("running %s: %w", path, err) })
					return
				}
				n.Add(1)
			}
		})
	}
	t0 := time.Now()
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(n.Load()) / time.Since(t0).Seconds(), ctx.Err()
}

// finalStatuses are an execution's final statuses; failedStatuses are those
// of them that count as failures.
const (
	finalStatuses  = "[SUCCEEDED, FAILED, TIMEOUT, CANCELED, ABANDONED]"
	failedStatuses = "[FAILED, TIMEOUT, ABANDONED]"
)

// doneQuery counts finished executions above an id; finishedQuery also
// counts failures among them.
const (
	doneQuery     = `query($after: ID) { done: executions(where: {idGT: $after, statusIn: ` + finalStatuses + `}) { totalCount } }`
	finishedQuery = `query($after: ID) {
  done: executions(where: {idGT: $after, statusIn: ` + finalStatuses + `}) { totalCount }
  failed: executions(where: {idGT: $after, statusIn: ` + failedStatuses + `}) { totalCount }
}`
)

// finishedCounter counts the finished executions of one figure. The
// server being measured answers its polls, so it counts only executions
// with an id above the newest one stored before the figure started: a poll
// reads the figure's rows, not every execution the database ever held.
type finishedCounter struct {
	c     *client
	after int64
	// baseDone and baseFailed are what was already counted above after
	// when the counter was made; they are subtracted.
	baseDone, baseFailed int64
}

// newFinishedCounter starts counting from the newest execution stored now.
// That is the one requested last (the API's default order, served by the
// (requested_at, id) index; the API cannot order by id): on the idle server
// between figures it has the highest id, and anything above it that had
// already finished goes into the base.
func newFinishedCounter(ctx context.Context, c *client) (*finishedCounter, error) {
	var out struct {
		Executions struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	if err := c.do(ctx, `{ executions(first: 1) { edges { node { id } } } }`, nil, &out); err != nil {
		return nil, fmt.Errorf("reading the newest execution: %w", err)
	}
	fc := &finishedCounter{c: c}
	if e := out.Executions.Edges; len(e) > 0 {
		id, err := strconv.ParseInt(e[0].Node.ID, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("reading the newest execution: id %q: %w", e[0].Node.ID, err)
		}
		fc.after = id
	}
	var err error
	if fc.baseDone, fc.baseFailed, err = fc.finished(ctx); err != nil {
		return nil, err
	}
	return fc, nil
}

// done counts the figure's finished executions with one count: what the
// polls during a load need.
func (fc *finishedCounter) done(ctx context.Context) (int64, error) {
	var out struct{ Done struct{ TotalCount int64 } }
	if err := fc.c.do(ctx, doneQuery, map[string]any{"after": fc.after}, &out); err != nil {
		return 0, fmt.Errorf("counting finished executions: %w", err)
	}
	return out.Done.TotalCount - fc.baseDone, nil
}

// finished counts the figure's finished executions and, of them, failures.
func (fc *finishedCounter) finished(ctx context.Context) (done, failed int64, err error) {
	var out struct{ Done, Failed struct{ TotalCount int64 } }
	if err := fc.c.do(ctx, finishedQuery, map[string]any{"after": fc.after}, &out); err != nil {
		return 0, 0, fmt.Errorf("counting finished and failed executions: %w", err)
	}
	return out.Done.TotalCount - fc.baseDone, out.Failed.TotalCount - fc.baseFailed, nil
}

// The throughput figures' load: loadProducers clients keep up to
// loadBacklog submitted executions unfinished, so the worker never starves
// and the queue never grows without bound.
const loadBacklog, loadProducers = 300, 8

// sustained is what sustain measured.
type sustained struct {
	// rate is executions finished per second over the window.
	rate float64
	// submitted is how many submit calls succeeded; failed is how many of
	// the figure's executions failed.
	submitted, failed int64
	// pool is how busy the server's writing pool was over the window.
	pool poolLoad
	// cpu is the machine's busy CPU time (every process: server,
	// database, actions, the bench) per execution over the window, and
	// who spent it; cpuOK is false without /proc.
	cpu   cpuSplit
	cpuOK bool
}

// cpuHow is the CPU split of a load figure's window, for its detail.
func (s sustained) cpuHow() string { return cpuHow(s.cpu, s.cpuOK, "an execution") }

// poolLoad is how busy the server's writing database pool (on SQLite the
// one writer connection) was over a window, from debug.sql_stats.
type poolLoad struct {
	maxOpen int
	// waiting is the mean number of callers waiting for a connection
	// (their summed waits over the window's length); waitsPerSec how
	// often one had to.
	waiting, waitsPerSec float64
}

func (p poolLoad) String() string {
	what := fmt.Sprintf("its pool of %d connections", p.maxOpen)
	if p.maxOpen == 1 {
		what = "its one writer connection"
	}
	return fmt.Sprintf("callers waiting for %s: %.1f on average, %.0f waits/s", what, p.waiting, p.waitsPerSec)
}

func newPoolLoad(a, b sqlStats, d time.Duration) poolLoad {
	return poolLoad{
		maxOpen:     b.PoolMaxOpen,
		waiting:     float64(b.PoolWaitedNanos-a.PoolWaitedNanos) / float64(d.Nanoseconds()),
		waitsPerSec: float64(b.PoolWaits-a.PoolWaits) / d.Seconds(),
	}
}

// produce starts loadProducers goroutines on wg that call submit whenever
// full reports room in the backlog, until ctx ends; the first error goes to
// errc (room for loadProducers) and ends them all through stop.
func produce(ctx context.Context, stop context.CancelFunc, wg *sync.WaitGroup, errc chan<- error, full func() bool, submit func(context.Context) error) {
	for range loadProducers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if full() {
					_ = sleep(ctx, 2*time.Millisecond)
					continue
				}
				if err := submit(ctx); err != nil {
					if ctx.Err() == nil {
						errc <- err
						stop()
					}
					return
				}
			}
		})
	}
}

// sustain runs the throughput figures' load, each submit call causing one
// execution, and counts finished executions (polled every 100 ms) over
// ExecWindow after ExecWarmup, profiling the server over the window as
// name. It then waits for the backlog to drain so the next figure starts
// on an idle server.
func (b *run) sustain(ctx context.Context, backend, name string, s *server, c *client, submit func(context.Context) error) (sustained, error) {
	sz := b.cfg.Sizes
	fc, err := newFinishedCounter(ctx, c)
	if err != nil {
		return sustained{}, err
	}
	var submitted, done atomic.Int64
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, loadProducers+1)
	var wg sync.WaitGroup
	produce(pctx, stop, &wg, errc, func() bool { return submitted.Load()-done.Load() > loadBacklog },
		func(ctx context.Context) error {
			if err := submit(ctx); err != nil {
				return err
			}
			submitted.Add(1)
			return nil
		})
	wg.Go(func() {
		for pctx.Err() == nil {
			n, err := fc.done(pctx)
			if err != nil {
				if pctx.Err() == nil {
					errc <- err
					stop()
				}
				return
			}
			done.Store(n)
			_ = sleep(pctx, 100*time.Millisecond)
		}
	})
	measure := func() (int64, time.Time, error) {
		n, err := fc.done(ctx)
		return n, time.Now(), err
	}
	_ = sleep(pctx, sz.ExecWarmup)
	n0, t0, err0 := measure()
	p0, errP0 := c.sqlStats(ctx)
	cpu0 := sampleCPU(s.cmd.Process.Pid, backend == "postgres")
	profiled := b.profile(ctx, s, backend, name, sz.ExecWindow)
	_ = sleep(pctx, sz.ExecWindow)
	n1, t1, err1 := measure()
	cpu1 := sampleCPU(s.cmd.Process.Pid, backend == "postgres")
	p1, errP1 := c.sqlStats(ctx)
	profiled()
	stop()
	wg.Wait()
	close(errc)
	if err := errors.Join(<-errc, err0, err1, errP0, errP1); err != nil {
		return sustained{}, err
	}
	total := submitted.Load()
	var n int64
	if err := waitFor(ctx, 2*time.Minute, func() (bool, error) {
		var err error
		n, err = fc.done(ctx)
		return n >= total, err
	}); err != nil {
		return sustained{}, fmt.Errorf("draining the backlog (%d of %d finished): %w", n, total, err)
	}
	_, failed, err := fc.finished(ctx)
	if err != nil {
		return sustained{}, err
	}
	res := sustained{rate: float64(n1-n0) / t1.Sub(t0).Seconds(), submitted: total, failed: failed,
		pool: newPoolLoad(p0, p1, t1.Sub(t0))}
	res.cpu, res.cpuOK = perExecution(cpu0, cpu1, n1-n0)
	return res, nil
}

// workers is the servers' worker.concurrency: the setting's default
// unless -worker-concurrency is given.
func (b *run) workers() int {
	if b.cfg.WorkerConcurrency > 0 {
		return b.cfg.WorkerConcurrency
	}
	return 10 // worker.concurrency's default
}

// executions measures executions/s of the trivial native action requested
// by executeAction with a standing backlog, against the raw fork+exec rate
// of the same file measured just before, Rounds times; the report gives the
// round with the median ratio.
func (b *run) executions(ctx context.Context, backend string, s *server, c *client, exe string) error {
	sz := b.cfg.Sizes
	parallel := b.workers()
	type round struct {
		raw, ratio float64
		res        sustained
	}
	var rounds []round
	for r := range sz.Rounds {
		raw, err := forkExecRate(ctx, exe, parallel, sz.RawWindow)
		if err != nil {
			return err
		}
		res, err := b.sustain(ctx, backend, firstRound(r, "executions"), s, c, func(ctx context.Context) error {
			return c.do(ctx, `mutation($a: String!) { executeAction(input: {action: $a}) { execution { id } } }`,
				map[string]any{"a": nativeRef}, nil)
		})
		if err != nil {
			return fmt.Errorf("executions/s by executeAction: %w", err)
		}
		rounds = append(rounds, round{raw: raw, ratio: res.rate / raw, res: res})
		b.logf("executions %.0f/s, raw fork+exec %.0f/s just before (%.2f×), %d submitted, %d failed; %s; %s",
			res.rate, raw, res.rate/raw, res.submitted, res.failed, res.cpuHow(), res.pool)
	}
	ratios := make([]float64, len(rounds))
	var failed int64
	var each []string
	for i, r := range rounds {
		ratios[i] = r.ratio
		failed += r.res.failed
		each = append(each, fmt.Sprintf("%.2f× (%.0f/s against %.0f/s)", r.ratio, r.res.rate, r.raw))
	}
	m := rounds[MedianIndex(ratios)]
	b.report.add(Figure{
		Name: "executions/s, trivial native action", Backend: backend,
		Value: fmt.Sprintf("%.0f/s", m.res.rate), Baseline: fmt.Sprintf("%.0f/s fork+exec ×%d", m.raw, parallel),
		Ratio: fmt.Sprintf("%.2f×", m.ratio), Goal: "≥ 0.5 × baseline", Met: verdict(m.ratio >= 0.5 && failed == 0),
		Detail: fmt.Sprintf("executeAction over GraphQL by %d clients keeping ≤ %d waiting; %s; %s; %d executions in the median round, %d failed in all; in the median round's window, %s, and %s (from debug.sql_stats)",
			loadProducers, loadBacklog, b.countedHow(), b.roundsHow("the baseline measured just before each; ratios", each), m.res.submitted, failed, m.res.cpuHow(), m.res.pool),
	})
	return nil
}

// firstRound is name for round 0, whose server CPU is profiled, and "" for
// the others.
func firstRound(round int, name string) string {
	if round == 0 {
		return name
	}
	return ""
}

// roundsHow says how a figure's rounds went, for its detail.
func (b *run) roundsHow(what string, each []string) string {
	if len(each) == 1 {
		return "one round"
	}
	return fmt.Sprintf("median of %d rounds (%s: %s)", len(each), what, strings.Join(each, ", "))
}

// countedHow says how the throughput figures count, for their details.
func (b *run) countedHow() string {
	return fmt.Sprintf("finished executions counted over %s after %s warm-up (polled every 100 ms, counting only ids above the newest before the figure)",
		b.cfg.Sizes.ExecWindow, b.cfg.Sizes.ExecWarmup)
}

// webhooks measures the webhook path: its own executions/s, then the
// latency from webhook to RUNNING at low load and at half that rate. One
// rule, benchlat.run (bench.hook → bench.true), serves both.
func (b *run) webhooks(ctx context.Context, backend string, s *server, c *client) error {
	err := c.do(ctx, `mutation($t: String!, $a: String!) { createRule(input: {ref: "benchlat.run", trigger: $t, action: $a}) { rule { ref } } }`,
		map[string]any{"t": hookTrigger, "a": nativeRef}, nil)
	if err != nil {
		return fmt.Errorf("creating the webhook rule: %w", err)
	}
	key, err := rotateKey(ctx, c, hookTrigger)
	if err != nil {
		return fmt.Errorf("rotating the webhook key: %w", err)
	}
	rate, err := b.webhookExecutions(ctx, backend, s, c, key)
	if err != nil {
		return err
	}
	return b.webhookLatency(ctx, backend, s, c, key, rate)
}

// webhookExecutions measures how many webhook-triggered executions per
// second the node sustains, with the load and counting of the executeAction
// figure, and returns the rate. Each execution costs more than an
// executeAction one (the event, its rule evaluation and the enforcement
// come on top), so this, not the executeAction rate, is the max throughput
// whose half the half-load latency uses: half of executeAction's is near
// the webhook path's capacity. The issue sets no goal for it.
func (b *run) webhookExecutions(ctx context.Context, backend string, s *server, c *client, key string) (float64, error) {
	var sent atomic.Int64
	var rounds []sustained
	var rates []float64
	var each []string
	for r := range b.cfg.Sizes.Rounds {
		res, err := b.sustain(ctx, backend, firstRound(r, "webhook-executions"), s, c, func(ctx context.Context) error {
			_, err := c.webhook(ctx, hookTrigger, key, map[string]any{"n": sent.Add(1)})
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("executions/s driven by webhooks: %w", err)
		}
		b.logf("webhook-driven executions %.0f/s, %d webhooks, %d failed; %s; %s", res.rate, res.submitted, res.failed, res.cpuHow(), res.pool)
		rounds, rates, each = append(rounds, res), append(rates, res.rate), append(each, fmt.Sprintf("%.0f/s", res.rate))
	}
	m := rounds[MedianIndex(rates)]
	var failed int64
	for _, r := range rounds {
		failed += r.failed
	}
	b.report.add(Figure{
		Name: "executions/s driven by webhooks (rule → trivial native action)", Backend: backend,
		Value: fmt.Sprintf("%.0f/s", m.rate),
		Detail: fmt.Sprintf("POST /webhooks/%s by %d clients keeping ≤ %d waiting, each event matched by one rule enforcing the trivial native action; %s; %s; %d webhooks in the median round, %d executions failed in all; informational (no goal): the max throughput whose half the half-load webhook latency figure is taken at; in the median round's window, %s, and %s",
			hookTrigger, loadProducers, loadBacklog, b.countedHow(), b.roundsHow("rates", each), m.submitted, failed, m.cpuHow(), m.pool),
	})
	return m.rate, nil
}

// webhookLatency measures webhook accepted → execution RUNNING: from the
// client sending the webhook to the startedAt the server records when it
// moves the execution to RUNNING (one clock: both run on this machine),
// read from the executionUpdated subscription; one at a time, then at half
// maxRate, the webhook path's own max throughput. A RUNNING this
// short-lived is often superseded by SUCCEEDED before a subscriber reads
// it, so every update carrying startedAt counts. The subscription asks only
// for what the probe needs (no SCHEDULED updates, the event's id without
// the event), so that watching weighs little on the server it measures.
func (b *run) webhookLatency(ctx context.Context, backend string, s *server, c *client, key string, maxRate float64) error {
	sz := b.cfg.Sizes
	half := maxRate / 2
	if half <= 0 {
		return fmt.Errorf("webhook latency: no webhook-driven execution finished in the throughput window, no rate to halve")
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := newProbe()
	err := c.subscribe(sctx, `subscription($a: String) { executionUpdated(actionRef: $a, status: [RUNNING, SUCCEEDED, FAILED, TIMEOUT]) { startedAt enforcement { eventId } } }`,
		map[string]any{"a": nativeRef}, p.running)
	if err != nil {
		return err
	}
	// The server starts the subscription asynchronously: send until one
	// arrives, outside the samples.
	if err := waitFor(ctx, 30*time.Second, func() (bool, error) {
		if _, err := p.send(ctx, c, key); err != nil {
			return false, err
		}
		return p.seen() > 0, sleep(ctx, 100*time.Millisecond)
	}); err != nil {
		return fmt.Errorf("subscription never delivered: %w", err)
	}
	low, err := b.latencyPhase(ctx, c, p, key, func(send func()) {
		for range sz.LowLoadSamples {
			send()
			_ = sleep(ctx, sz.LowLoadGap)
		}
	})
	if err != nil {
		return err
	}
	b.reportLatency(backend, "low load (one at a time, "+sz.LowLoadGap.String()+" apart)", "", []latencies{low})
	var rounds []latencies
	for r := range sz.Rounds {
		profiled := b.profile(ctx, s, backend, firstRound(r, "half-load"), sz.HalfLoadWindow)
		l, err := b.latencyPhase(ctx, c, p, key, func(send func()) {
			var wg sync.WaitGroup
			gap := time.Duration(float64(time.Second) / half)
			end := time.Now().Add(sz.HalfLoadWindow)
			for next := time.Now(); next.Before(end) && ctx.Err() == nil; next = next.Add(gap) {
				_ = sleep(ctx, time.Until(next))
				wg.Go(send)
			}
			wg.Wait()
		})
		profiled()
		if err != nil {
			return err
		}
		rounds = append(rounds, l)
	}
	b.reportLatency(backend, fmt.Sprintf("half max throughput (%.0f/s for %s)", half, sz.HalfLoadWindow),
		fmt.Sprintf("the max throughput halved is the webhook-driven executions/s figure's (%.0f/s), not executeAction's, whose executions cost less", maxRate), rounds)
	return nil
}

// latencies is one latency phase's outcome.
type latencies struct {
	p50, p99      time.Duration
	samples, lost int
}

// latencyPhase runs load (which calls send once per sample) and returns
// the latencies of the events it sent.
func (b *run) latencyPhase(ctx context.Context, c *client, p *probe, key string, load func(send func())) (latencies, error) {
	var mu sync.Mutex
	var ids []int64
	var sendErr error
	load(func() {
		id, err := p.send(ctx, c, key)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			sendErr = errors.Join(sendErr, err)
			return
		}
		ids = append(ids, id)
	})
	if sendErr != nil {
		return latencies{}, sendErr
	}
	// Wait for the stragglers; what never comes counts as lost.
	_ = waitFor(ctx, 30*time.Second, func() (bool, error) { return p.all(ids), nil })
	lat, lost := p.latencies(ids)
	l := latencies{p50: Percentile(lat, 0.5), p99: Percentile(lat, 0.99), samples: len(lat), lost: lost}
	b.logf("webhook→RUNNING: p50 %s p99 %s (%d samples, %d lost)", ms(l.p50), ms(l.p99), l.samples, l.lost)
	return l, nil
}

// reportLatency adds the figure of a latency phase's rounds: the round with
// the median p99; note, when set, ends the detail.
func (b *run) reportLatency(backend, label, note string, rounds []latencies) {
	p99s := make([]float64, len(rounds))
	var each []string
	lost := 0
	for i, r := range rounds {
		p99s[i] = float64(r.p99)
		lost += r.lost
		each = append(each, "p50 "+ms(r.p50)+" p99 "+ms(r.p99))
	}
	m := rounds[MedianIndex(p99s)]
	detail := fmt.Sprintf("%d samples, %d never seen started in all; from sending POST /webhooks/%s to the execution's startedAt (set as it moves to RUNNING), read from executionUpdated",
		m.samples, lost, hookTrigger)
	if len(rounds) > 1 {
		detail += "; " + b.roundsHow("the round with the median p99; each", each)
	}
	if note != "" {
		detail += "; " + note
	}
	b.report.add(Figure{
		Name: "webhook accepted → execution RUNNING, " + label, Backend: backend,
		Value: "p50 " + ms(m.p50) + ", p99 " + ms(m.p99), Goal: "p50 < 10 ms, p99 < 50 ms",
		Met:    verdict(m.p50 < 10*time.Millisecond && m.p99 < 50*time.Millisecond && lost == 0 && m.samples > 0),
		Detail: detail,
	})
}

// probe pairs webhook send times with RUNNING arrival times by event id.
type probe struct {
	mu   sync.Mutex
	sent map[int64]time.Time
	ran  map[int64]time.Time
}

func newProbe() *probe { return &probe{sent: map[int64]time.Time{}, ran: map[int64]time.Time{}} }

func (p *probe) send(ctx context.Context, c *client, key string) (int64, error) {
	t0 := time.Now()
	id, err := c.webhook(ctx, hookTrigger, key, map[string]any{"sent": t0.UnixNano()})
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	p.sent[id] = t0
	p.mu.Unlock()
	return id, nil
}

// running records when an execution a webhook caused started.
func (p *probe) running(data json.RawMessage) {
	var d struct {
		ExecutionUpdated struct {
			StartedAt   *time.Time
			Enforcement *struct{ EventID json.RawMessage }
		}
	}
	if json.Unmarshal(data, &d) != nil {
		return
	}
	u := d.ExecutionUpdated
	if u.StartedAt == nil || u.Enforcement == nil {
		return
	}
	id, err := strconv.ParseInt(strings.Trim(string(u.Enforcement.EventID), `"`), 10, 64)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ran[id] = *u.StartedAt
}

func (p *probe) seen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ran)
}

func (p *probe) all(ids []int64) bool {
	_, lost := p.latencies(ids)
	return lost == 0
}

func (p *probe) latencies(ids []int64) (lat []time.Duration, lost int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		if t1, ok := p.ran[id]; ok {
			lat = append(lat, t1.Sub(p.sent[id]))
		} else {
			lost++
		}
	}
	return lat, lost
}

func rotateKey(ctx context.Context, c *client, trigger string) (string, error) {
	var out struct{ RotateWebhookKey struct{ Key string } }
	err := c.do(ctx, `mutation($t: String!) { rotateWebhookKey(ref: $t) { key } }`, map[string]any{"t": trigger}, &out)
	return out.RotateWebhookKey.Key, err
}

// events measures rule evaluation: Events webhook events are stored by an
// API-only server (nothing evaluates them), then a full server starts and
// evaluates them against Rules rules whose criteria never match; Rounds
// times, reporting the median rate. It returns the servers' peak RSS while
// evaluating.
func (b *run) events(ctx context.Context, backend string, db *database, dataDir string) (int64, error) {
	sz := b.cfg.Sizes
	s, c, err := b.start(ctx, db, dataDir, "api")
	if err != nil {
		return 0, err
	}
	defer s.stop()
	for i := range sz.Rules {
		err := c.do(ctx, `mutation($r: String!, $t: String!, $a: String!, $c: JSON) {
			createRule(input: {ref: $r, trigger: $t, action: $a, criteria: $c}) { rule { ref } } }`,
			map[string]any{"r": fmt.Sprintf("benchrules.r%03d", i), "t": evalTrigger, "a": nativeRef,
				"c": map[string]any{"trigger.kind": map[string]any{"type": "equals", "pattern": fmt.Sprintf("never-%d", i)}}}, nil)
		if err != nil {
			return 0, err
		}
	}
	key, err := rotateKey(ctx, c, evalTrigger)
	if err != nil {
		return 0, err
	}
	s.stop()
	sdb, err := store.Open(ctx, db.url, "")
	if err != nil {
		return 0, err
	}
	defer sdb.Close()
	var rounds []evalRound
	var rates []float64
	var each []string
	var peak int64
	for r := range sz.Rounds {
		rd, err := b.evalRound(ctx, backend, db, dataDir, sdb, key, r)
		if err != nil {
			return 0, err
		}
		peak = max(peak, rd.rss)
		rounds, rates, each = append(rounds, rd), append(rates, rd.rate), append(each, fmt.Sprintf("%.0f/s", rd.rate))
	}
	m := rounds[MedianIndex(rates)]
	b.report.add(Figure{
		Name: fmt.Sprintf("events/s evaluated against %d rules on one trigger (no match)", sz.Rules), Backend: backend,
		Value: fmt.Sprintf("%.0f/s", m.rate), Goal: "≥ 5,000/s", Met: verdict(m.rate >= 5000),
		Detail: fmt.Sprintf("%d webhook events stored first by an API-only server (by %d clients, accepted at %.0f/s), then evaluated by a full server; completion read from the queue's table every 20 ms (the evaluation jobs not yet completed, by River's index on their state and queue; %d events were done at the first read); %s; in the median round, %s",
			sz.Events, eventSenders, m.accepted, m.early, b.roundsHow("rates", each), m.cpu),
	})
	return peak, nil
}

// eventSenders is how many clients send the events figure's webhooks.
const eventSenders = 8

// evalRound is one round of the events figure.
type evalRound struct {
	rate, accepted float64
	early          int64 // events already evaluated at the first read
	rss            int64
	cpu            string // the CPU split per event, as the detail says it
}

// evalRound stores Events events through an API-only server, then starts a
// full server and times their evaluation.
func (b *run) evalRound(ctx context.Context, backend string, db *database, dataDir string, sdb *store.DB, key string, round int) (evalRound, error) {
	sz := b.cfg.Sizes
	s, c, err := b.start(ctx, db, dataDir, "api")
	if err != nil {
		return evalRound{}, err
	}
	defer s.stop()
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, eventSenders)
	t0 := time.Now()
	for range eventSenders {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(sz.Events); i = next.Add(1) {
				if _, err := c.webhook(ctx, evalTrigger, key, map[string]any{"kind": "load", "n": i}); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	accepted := float64(sz.Events) / time.Since(t0).Seconds()
	close(errc)
	if err := <-errc; err != nil {
		return evalRound{}, err
	}
	s.stop()
	b.logf("%d events accepted at %.0f/s (API only, not evaluated)", sz.Events, accepted)

	// A job evaluates the events stored in one transaction. Read each
	// waiting job's count once; while they are worked, read only which are
	// still waiting, so that watching costs the server next to nothing
	// (summing the counts of all completed jobs every 20 ms took a good
	// part of a core on SQLite). The read names the jobs by their queue,
	// which only evaluations use, not by kind: River's index on (state,
	// queue, ...) then reads the waiting jobs alone, where PostgreSQL
	// answered "kind = ..." from the index on kind, every evaluation job
	// the database ever held, completed ones included, each 20 ms.
	count := `jsonb_array_length(args->'event_ids')`
	if sdb.Dialect == dialect.SQLite {
		count = `json_array_length(args, '$.event_ids')`
	}
	const waitingJobs = `FROM river_job WHERE state IN ('available', 'running', 'retryable', 'scheduled', 'pending') AND queue = '` + queue.QueueEvents + `'`
	events := map[int64]int64{}
	var total int64
	if err := eachRow(ctx, sdb, `SELECT id, `+count+` `+waitingJobs, func(rows *sql.Rows) error {
		var id, n int64
		if err := rows.Scan(&id, &n); err != nil {
			return err
		}
		events[id] = n
		total += n
		return nil
	}); err != nil {
		return evalRound{}, fmt.Errorf("reading the evaluation jobs: %w", err)
	}
	if total != int64(sz.Events) {
		return evalRound{}, fmt.Errorf("%d events wait for evaluation, want %d", total, sz.Events)
	}
	b.logf("%d events wait in %d evaluation jobs", total, len(events))
	evaluated := func() (int64, error) {
		left := int64(0)
		err := eachRow(ctx, sdb, `SELECT id `+waitingJobs, func(rows *sql.Rows) error {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			left += events[id]
			return nil
		})
		return total - left, err
	}
	s, _, err = b.start(ctx, db, dataDir, "")
	if err != nil {
		return evalRound{}, err
	}
	defer s.stop()
	pctx, stopSampling := context.WithCancel(ctx)
	peak := s.peakRSS(pctx, 100*time.Millisecond)
	profiled := b.profile(ctx, s, backend, firstRound(round, "events"), 5*time.Second)
	defer profiled()
	var first, last time.Time
	var n0, n int64
	var cpu0, cpu1 cpuSample
	err = waitFor(ctx, max(time.Minute, time.Duration(sz.Events)*10*time.Millisecond), func() (bool, error) {
		v, err := evaluated()
		if err != nil {
			return false, err
		}
		if first.IsZero() {
			first, n0, cpu0 = time.Now(), v, sampleCPU(s.cmd.Process.Pid, backend == "postgres")
		}
		n, last = v, time.Now()
		if v >= total {
			cpu1 = sampleCPU(s.cmd.Process.Pid, backend == "postgres")
			return true, nil
		}
		return false, sleep(ctx, 20*time.Millisecond)
	})
	stopSampling()
	rss := <-peak
	if err != nil {
		return evalRound{}, fmt.Errorf("evaluating events (%d of %d done): %w", n, total, err)
	}
	rate := 0.0
	if last.After(first) && n > n0 {
		rate = float64(n-n0) / last.Sub(first).Seconds()
	}
	split, ok := perExecution(cpu0, cpu1, n-n0)
	cpu := cpuHow(split, ok, "an event")
	b.logf("events evaluated %.0f/s against %d rules (%d already done at the first look); %s", rate, sz.Rules, n0, cpu)
	return evalRound{rate: rate, accepted: accepted, early: n0, rss: rss, cpu: cpu}, nil
}

// eachRow runs query on db and calls f for each row.
func eachRow(ctx context.Context, db *store.DB, query string, f func(*sql.Rows) error) error {
	rows, err := db.SQL.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// waitFor polls cond until it holds, fails, or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done within %s", timeout)
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
