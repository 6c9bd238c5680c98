// Package bench measures attune end to end, as a user would see it: it
// starts the real server binary on SQLite and on PostgreSQL, drives it only
// through its public interfaces (GraphQL over HTTP and websocket,
// webhooks), and pairs every figure with a baseline measured in the same
// run on the same machine, so ratios stay meaningful on a noisy machine.
// cmd/attune-bench runs it and writes docs/BENCHMARKS.md.
package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	_ "github.com/lib/pq"  // PostgreSQL driver for schemas, seeding and baselines
	_ "modernc.org/sqlite" // SQLite driver for the version in the report
)

// Sizes are how much each figure measures; Full is the published run,
// Smoke only keeps the program working (CI).
type Sizes struct {
	// IdleSettle is the wait after start before idle memory is read.
	IdleSettle time.Duration
	// ExecWarmup precedes the ExecWindow over which executions/s is
	// measured; RawWindow is the fork+exec baseline's duration.
	ExecWarmup, ExecWindow, RawWindow time.Duration
	// LowLoadSamples webhooks are sent one at a time, LowLoadGap apart.
	LowLoadSamples int
	LowLoadGap     time.Duration
	// HalfLoadWindow is how long webhooks arrive at half the max rate.
	HalfLoadWindow time.Duration
	// Rules on one trigger and Events sent to it.
	Rules, Events int
	// Executions stored for the list figure and ListRequests timed.
	Executions, ListRequests int
	// ShellInstalls and PythonInstalls are timed installs of each pack;
	// PythonInstalls 0 skips the Python figure.
	ShellInstalls, PythonInstalls int
	// Rounds is how many times each load figure (executions/s with its
	// baseline, webhook-driven executions/s, the half-load latency,
	// events/s) is measured; the report gives the median round and lists
	// all of them.
	Rounds int
	// WorkflowTasks is the length of the sequential workflow, WorkflowItems
	// the items of the with-items workflow, run WorkflowConcurrency at once.
	WorkflowTasks, WorkflowItems, WorkflowConcurrency int
	// InquiryAnswers is how many inquiries each round answers.
	InquiryAnswers int
}

// Full is what make bench measures.
var Full = Sizes{
	IdleSettle: 3 * time.Second,
	ExecWarmup: 3 * time.Second, ExecWindow: 10 * time.Second, RawWindow: 3 * time.Second,
	LowLoadSamples: 100, LowLoadGap: 50 * time.Millisecond, HalfLoadWindow: 10 * time.Second,
	Rules: 100, Events: 10000,
	Executions: 1_000_000, ListRequests: 300,
	ShellInstalls: 5, PythonInstalls: 2,
	Rounds:        3,
	WorkflowTasks: 100, WorkflowItems: 1000, WorkflowConcurrency: 20,
	InquiryAnswers: 30,
}

// Smoke is what make bench-smoke measures: seconds, not minutes.
var Smoke = Sizes{
	IdleSettle: 200 * time.Millisecond,
	ExecWarmup: 200 * time.Millisecond, ExecWindow: time.Second, RawWindow: 200 * time.Millisecond,
	LowLoadSamples: 5, LowLoadGap: 20 * time.Millisecond, HalfLoadWindow: 500 * time.Millisecond,
	Rules: 100, Events: 50,
	Executions: 2000, ListRequests: 10,
	ShellInstalls: 1, PythonInstalls: 0,
	Rounds:        1,
	WorkflowTasks: 5, WorkflowItems: 20, WorkflowConcurrency: 5,
	InquiryAnswers: 2,
}

// Config is one bench run.
type Config struct {
	// Bin is the attune binary under test.
	Bin string
	// PythonPack is a pack with a wheelhouse (examples/packs/python_example).
	PythonPack string
	// Python is the interpreter the servers build venvs with and the
	// Python baselines run; empty means python3, or /usr/bin/python3 when
	// run as root (a root server builds as another user, who cannot reach
	// an interpreter in root's home such as pyenv's).
	Python string
	// PostgresURL is an administrative URL of a PostgreSQL server; the run
	// creates and drops its own schemas there. Empty skips PostgreSQL.
	PostgresURL string
	// WorkerConcurrency is the servers' worker.concurrency; 0 keeps the default.
	WorkerConcurrency int
	Sizes             Sizes
	// Only, when not empty, limits the run to these figure groups (see
	// Groups); the report then holds only their figures.
	Only []string
	// SkipSQLite measures PostgreSQL only (quick A/B runs).
	SkipSQLite bool
	// ProfileDir, when set, receives a CPU profile of the server during
	// each load figure (<backend>-executions.pprof,
	// <backend>-webhook-executions.pprof, <backend>-events.pprof,
	// <backend>-workflow-items.pprof: the first 5 s of the with-items); the
	// servers then run with debug.pprof.
	ProfileDir string
	// Log receives progress lines.
	Log io.Writer
}

// Groups are the figure groups Config.Only may name: "executions" is
// executions/s by executeAction and driven by webhooks, and the webhook
// latencies (measured at half the webhook-driven rate), "memory" the idle
// and loaded RSS, "packs" the pack installs, "isolation" executions/s with
// and without action isolation, "workflows" a sequential and a with-items
// workflow against the same plain executions, and the task-to-task latency.
var Groups = []string{"memory", "packs", "executions", "events", "listing", "isolation", "workflows"}

// wants reports whether the run measures figure group g.
func (b *run) wants(g string) bool {
	return len(b.cfg.Only) == 0 || slices.Contains(b.cfg.Only, g)
}

// Run measures every figure on SQLite, then on PostgreSQL when configured,
// and returns the report. Every server, temp dir and schema it made is gone
// when it returns, whatever happened.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	tmp, err := os.MkdirTemp("", "attune-bench-")
	if err != nil {
		return nil, fmt.Errorf("creating temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	// A root server runs actions as another user, who must reach the
	// packs in the data dirs below.
	if err := os.Chmod(tmp, 0o711); err != nil {
		return nil, err
	}
	r := &Report{Sizes: cfg.Sizes}
	if r.Machine, err = describeMachine(ctx, cfg.PostgresURL); err != nil {
		return nil, err
	}
	if cfg.Python == "" {
		cfg.Python = "python3"
		if _, err := os.Stat("/usr/bin/python3"); err == nil && os.Geteuid() == 0 {
			cfg.Python = "/usr/bin/python3"
		}
	}
	b := &run{cfg: cfg, tmp: tmp, report: r, pythonInstall: map[string]time.Duration{}}
	if err := b.prepare(ctx); err != nil {
		return nil, err
	}
	var backends []string
	if !cfg.SkipSQLite {
		backends = append(backends, "sqlite")
	}
	if cfg.PostgresURL != "" {
		backends = append(backends, "postgres")
	}
	for _, backend := range backends {
		if err := b.backend(ctx, backend); err != nil {
			return nil, fmt.Errorf("%s: %w", backend, err)
		}
	}
	if cfg.Sizes.PythonInstalls > 0 && b.wants("packs") {
		if err := b.pythonBaselines(ctx); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// run is the state of one Run.
type run struct {
	cfg    Config
	tmp    string
	report *Report
	// benchDir, shellDir and workflowDir are the sources of the packs the
	// figures install.
	benchDir, shellDir, workflowDir string
	// pythonInstall is the Python pack's install time per backend, judged
	// against the baseline measured at the end.
	pythonInstall map[string]time.Duration
}

func (b *run) logf(format string, args ...any) {
	if b.cfg.Log != nil {
		fmt.Fprintf(b.cfg.Log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
}

func (b *run) prepare(context.Context) error {
	trueBin, err := findTrue()
	if err != nil {
		return err
	}
	packs := filepath.Join(b.tmp, "src")
	if b.benchDir, err = writeBenchPack(packs, trueBin); err != nil {
		return err
	}
	if b.shellDir, err = writeShellPack(packs); err != nil {
		return err
	}
	sz := b.cfg.Sizes
	b.workflowDir, err = writeWorkflowPack(packs, sz.WorkflowTasks, sz.WorkflowConcurrency)
	return err
}

// findTrue locates true(1), the trivial native action.
func findTrue() (string, error) {
	for _, p := range []string{"/bin/true", "/usr/bin/true"} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no true(1) in /bin or /usr/bin")
}

// database is one fresh database of a backend: a SQLite file, or a
// PostgreSQL schema selected through search_path.
type database struct {
	url  string
	drop func() error
}

// newDatabase makes a fresh database; drop removes it.
func (b *run) newDatabase(ctx context.Context, backend, name string) (*database, error) {
	if backend == "sqlite" {
		path := filepath.Join(b.tmp, name, "attune.db")
		return &database{url: path, drop: func() error { return os.RemoveAll(filepath.Dir(path)) }}, nil
	}
	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		return nil, fmt.Errorf("naming schema: %w", err)
	}
	schema := "bench_" + name + "_" + hex.EncodeToString(suffix)
	admin, err := sql.Open("postgres", b.cfg.PostgresURL)
	if err != nil {
		return nil, fmt.Errorf("opening PostgreSQL: %w", err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return nil, fmt.Errorf("creating schema: %w", err)
	}
	u, err := url.Parse(b.cfg.PostgresURL)
	if err != nil {
		admin.Close()
		return nil, fmt.Errorf("parsing PostgreSQL URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return &database{url: u.String(), drop: func() error {
		defer admin.Close()
		// A fresh context: the schema goes even when the run was interrupted.
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(dctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			return fmt.Errorf("dropping schema %s: %w", schema, err)
		}
		return nil
	}}, nil
}

// start runs a server on db with the given roles and extra settings.
func (b *run) start(ctx context.Context, db *database, dataDir, roles string, env ...string) (*server, *client, error) {
	if b.cfg.WorkerConcurrency > 0 {
		env = append(env, fmt.Sprintf("ATTUNE_WORKER_CONCURRENCY=%d", b.cfg.WorkerConcurrency))
	}
	if b.cfg.ProfileDir != "" {
		env = append(env, "ATTUNE_DEBUG_PPROF=true")
	}
	env = append(env, "ATTUNE_PACKS_PYTHON="+b.cfg.Python)
	s, err := startServer(ctx, serverSpec{bin: b.cfg.Bin, dataDir: dataDir, dbURL: db.url, roles: roles, env: env})
	if err != nil {
		return nil, nil, err
	}
	return s, newClient(s.url), nil
}

// profile starts fetching a CPU profile of s over the next d into
// ProfileDir/<backend>-<name>.pprof, when profiling; the returned function
// waits for it. A failed profile is logged, never fatal.
func (b *run) profile(ctx context.Context, s *server, backend, name string, d time.Duration) (wait func()) {
	if b.cfg.ProfileDir == "" || name == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		path := filepath.Join(b.cfg.ProfileDir, backend+"-"+name+".pprof")
		if err := fetchProfile(ctx, s.url, path, d); err != nil {
			b.logf("profile %s: %v", path, err)
			return
		}
		b.logf("wrote %s", path)
	}()
	return func() { <-done }
}

func fetchProfile(ctx context.Context, base, path string, d time.Duration) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, max(1, int(d.Seconds()))), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
