package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/attune-io/attune/internal/auth"
	"github.com/attune-io/attune/internal/execution"
	"github.com/attune-io/attune/internal/inproc"
	"github.com/attune-io/attune/internal/inquiry"
	"github.com/attune-io/attune/internal/keystore"
	"github.com/attune-io/attune/internal/metrics"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/packconfig"
	"github.com/attune-io/attune/internal/queue"
	"github.com/attune-io/attune/internal/rule"
	"github.com/attune-io/attune/internal/sandbox"
	"github.com/attune-io/attune/internal/st2compat"
	"github.com/attune-io/attune/internal/store"
	"github.com/attune-io/attune/internal/trigger"
	wfengine "github.com/attune-io/attune/internal/workflow/engine"
	wfexpr "github.com/attune-io/attune/internal/workflow/expr"
)

// WorkerConfig sets how this node runs actions (worker role), how soon the
// executions of a dead worker are abandoned and how long executions are kept
// (every node applies those two).
type WorkerConfig struct {
	// Concurrency is how many actions this worker runs at once.
	Concurrency int `yaml:"concurrency"`
	// Name identifies the worker on executions; empty means host:pid:random.
	Name string `yaml:"name"`
	// DefaultTimeout applies to actions that set none.
	DefaultTimeout time.Duration `yaml:"default_timeout"`
	// KillGrace is the time between SIGTERM and SIGKILL to an action's
	// process group on timeout or cancel.
	KillGrace time.Duration `yaml:"kill_grace"`
	// MaxOutputBytes caps each of stdout and stderr kept per execution.
	MaxOutputBytes int `yaml:"max_output_bytes"`
	// AbandonAfter bounds the time from a worker's death to its executions
	// becoming ABANDONED.
	AbandonAfter time.Duration `yaml:"abandon_after"`
	// RescueAfter is when the queue hands a job still running on a silent
	// worker to another one, which then records it ABANDONED (never reruns
	// it); keep it above the longest action timeout.
	RescueAfter time.Duration `yaml:"rescue_after"`
	// Retention deletes finished executions older than this; 0 keeps them.
	Retention time.Duration `yaml:"retention"`
	// APIURL is given to actions as ATTUNE_API_URL; empty means
	// http://<listen>.
	APIURL string `yaml:"api_url"`
	// SSH sets the logins and host key checks of the remote runners.
	SSH SSHConfig `yaml:"ssh"`
	// Isolation confines each action process and environment build:
	// "auto" (default) uses every protection that works on this machine,
	// "required" refuses to start without all of them, "off" runs them as
	// the server's own user (see docs/security.md).
	Isolation string `yaml:"isolation"`
	// RequireIsolation true is Isolation "required".
	RequireIsolation bool `yaml:"require_isolation"`
	// RunAs is the user actions run as when the server runs as root;
	// empty means attune-action, or nobody when that user does not exist.
	RunAs string `yaml:"run_as"`
	// IsolationReadPaths are more paths every confined process may read
	// and execute besides the system ones (an interpreter under /srv...).
	IsolationReadPaths []string `yaml:"isolation_read_paths"`
	// IsolationLauncher is the launcher program; empty means the small
	// attune-sandbox next to the attune binary, else attune itself.
	IsolationLauncher string `yaml:"isolation_launcher"`
}

// SSHConfig sets how remote-shell-cmd and remote-shell-script actions log
// in and check host keys.
type SSHConfig struct {
	// KnownHosts is the known_hosts file host keys are checked against;
	// empty means <data_dir>/ssh/known_hosts.
	KnownHosts string `yaml:"known_hosts"`
	// HostKeyPolicy is accept-new (learn a new host's key, refuse a changed
	// one), strict (only hosts already in known_hosts) or off (any key, as
	// StackStorm).
	HostKeyPolicy string `yaml:"host_key_policy"`
	// User logs in when an action gives no username; empty means the
	// worker's own user.
	User string `yaml:"user"`
	// KeyFile is the private key used when an action gives neither
	// private_key nor password.
	KeyFile string `yaml:"key_file"`
	// ConnectTimeout bounds each connection and login.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
}

// isolationMode is the sandbox mode the worker section asks for.
func (w WorkerConfig) isolationMode() string {
	if w.RequireIsolation {
		return sandbox.ModeRequired
	}
	return w.Isolation
}

// defaultWorkerConfig is the worker section of DefaultConfig.
func defaultWorkerConfig() WorkerConfig {
	return WorkerConfig{
		Concurrency:    10,
		DefaultTimeout: execution.DefaultTimeout,
		KillGrace:      5 * time.Second,
		MaxOutputBytes: 1 << 20,
		AbandonAfter:   execution.DefaultAbandonAfter,
		RescueAfter:    2 * time.Hour,
		SSH:            SSHConfig{HostKeyPolicy: inproc.HostKeyAccept, ConnectTimeout: 10 * time.Second},
		Isolation:      sandbox.ModeAuto,
	}
}

// validate checks the worker section.
func (w WorkerConfig) validate() error {
	switch {
	case w.Concurrency < 1:
		return fmt.Errorf("worker.concurrency must be at least 1")
	case w.AbandonAfter < time.Second:
		return fmt.Errorf("worker.abandon_after must be at least 1s")
	case w.Retention < 0:
		return fmt.Errorf("worker.retention must not be negative")
	case w.SSH.ConnectTimeout <= 0:
		return fmt.Errorf("worker.ssh.connect_timeout must be positive")
	case w.RequireIsolation && w.Isolation == sandbox.ModeOff:
		return fmt.Errorf("worker.require_isolation is true but worker.isolation is off")
	}
	switch w.SSH.HostKeyPolicy {
	case inproc.HostKeyAccept, inproc.HostKeyStrict, inproc.HostKeyOff:
	default:
		return fmt.Errorf("worker.ssh.host_key_policy %q: want accept-new, strict or off", w.SSH.HostKeyPolicy)
	}
	switch w.Isolation {
	case sandbox.ModeOff, sandbox.ModeAuto, sandbox.ModeRequired:
	default:
		return fmt.Errorf("worker.isolation %q: want off, auto or required", w.Isolation)
	}
	return nil
}

// startSandbox detects the protections that confine actions and
// environment builds, logs them, and fails when worker.require_isolation
// asks for more than the machine gives. The directories the run-as user
// needs to reach are checked (and opened to it) here, so that a
// misconfigured data dir fails at start and not at the first action.
func startSandbox(cfg Config, log *slog.Logger) (*sandbox.Sandbox, error) {
	sb, err := sandbox.New(sandbox.Options{
		Mode: cfg.Worker.isolationMode(), RunAs: cfg.Worker.RunAs, ReadOnly: cfg.Worker.IsolationReadPaths,
		Launcher: cfg.Worker.IsolationLauncher,
	})
	if err != nil {
		return nil, err
	}
	if uid, _, ok := sb.Owner(); ok {
		if why := outOfReach(cfg, uid, sb.Status().RunAsUser); why != "" {
			if !sb.KeepServerUser(why) {
				return nil, errors.New(why)
			}
		}
	}
	st := sb.Status()
	attrs := []any{"mode", st.Mode, "active", strings.Join(st.Active, ","),
		"run_as", st.RunAsUser, "landlock_abi", st.LandlockABI, "launcher", st.Launcher}
	if len(st.Missing) > 0 {
		attrs = append(attrs, "missing", strings.Join(st.Missing, ","), "reason", st.Reason)
	}
	if sb.Enabled() && len(st.Missing) == 0 {
		log.Info("action isolation", attrs...)
	} else {
		log.Warn("action isolation incomplete", attrs...)
	}
	return sb, nil
}

// outOfReach says what the run-as user uid cannot reach of the directories
// and programs actions and environment builds need, or "".
func outOfReach(cfg Config, uid int, user string) string {
	for _, dir := range []string{cfg.PacksDir, cfg.Packs.EnvsDir, filepath.Join(cfg.DataDir, "tmp")} {
		if err := reachable(dir, uid); err != nil {
			return fmt.Sprintf("actions run as %s (worker.run_as) but %v", user, err)
		}
	}
	for key, name := range map[string]string{"packs.python": cfg.Packs.Python, "packs.npm": cfg.Packs.Npm} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue // reported when a pack needs it
		}
		if err := reachable(path, uid); err != nil {
			return fmt.Sprintf("environments are built as %s (worker.run_as) but %s %s is out of its reach: %v; "+
				"set %s to an interpreter installed for every user (such as /usr/bin/python3)", user, key, path, err, key)
		}
	}
	return ""
}

// reachable reports a directory above dir that uid cannot traverse
// (search permission for others, or ownership).
func reachable(dir string, uid int) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("checking %s: %w", d, err)
		}
		sys, _ := st.Sys().(*syscall.Stat_t)
		owned := sys != nil && int(sys.Uid) == uid
		if st.Mode().Perm()&0o001 == 0 && !(owned && st.Mode().Perm()&0o100 != 0) {
			return fmt.Errorf("%s is not searchable by that user (mode %v): make it so (chmod o+x) or move data_dir", d, st.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// engine is the execution engine of one process: the queue, the bus that
// carries changes between nodes, the execution service and, with the
// worker role, the worker.
type engine struct {
	log    *slog.Logger
	bus    *notify.Bus
	queue  *queue.Queue
	svc    *execution.Service
	worker *execution.Worker
	// rules stores events and evaluates rules (on worker nodes' queue).
	rules *rule.Engine
	// configs reads packs' configs as pack code sees them.
	configs *packconfig.Store
	// workflows runs workflow actions: their steps on worker nodes' queue,
	// pause and resume from any node.
	workflows *wfengine.Engine
	// inquiries runs the actions that ask a person (core.ask) and the
	// answers, timeouts and cancels of their inquiries.
	inquiries *inquiry.Service
	// metrics counts what the engine and the event pipeline do.
	metrics *metrics.Metrics
	// triggers emits the execution triggers (worker nodes): from the
	// announcements of ends, and from the jobs inserted with them.
	triggers *trigger.ExecutionTriggers
}

// startEngine migrates the queue's tables and starts what the roles need.
// Every node can request, cancel and stream executions; only worker nodes
// run them.
func startEngine(ctx context.Context, cfg Config, db *store.DB, log *slog.Logger, keys *keystore.Service, tokens *auth.Service, sb *sandbox.Sandbox, m *metrics.Metrics, packs execution.PackPreparer) (*engine, error) {
	if err := queue.Migrate(ctx, db); err != nil {
		return nil, err
	}
	bus, err := notify.New(ctx, db, cfg.DatabaseURL, log)
	if err != nil {
		return nil, err
	}
	e := &engine{log: log, bus: bus, metrics: m}
	h := &queue.Handlers{}
	concurrency := 0
	if cfg.HasRole("worker") {
		concurrency = cfg.Worker.Concurrency
	}
	e.queue, err = queue.New(ctx, db, queue.Config{
		DatabaseURL: cfg.DatabaseURL, Concurrency: concurrency,
		RescueAfter: cfg.Worker.RescueAfter, Logger: log.With("component", "queue"),
		EventConcurrency: cfg.Events.Concurrency, Metrics: m,
	}, h)
	if err != nil {
		bus.Close()
		return nil, err
	}
	e.svc = execution.NewService(db, e.queue, bus, execution.Options{
		DefaultTimeout: cfg.Worker.DefaultTimeout, AbandonAfter: cfg.Worker.AbandonAfter,
		Retention: cfg.Worker.Retention, Logger: log,
		Sealer: sealerOf(keys), Defaults: keys.RenderDefaults, Params: keys.RenderParams,
		Metrics: m,
	})
	e.svc.Start(ctx)
	e.configs = packconfig.New(db, keys)
	e.rules = rule.NewEngine(db, e.queue, e.svc, bus, rule.Options{
		Logger: log.With("component", "rules"), Context: keys.RuleContext, CheckTriggerParams: trigger.CheckParams,
		PackConfig: e.configs.ConfigWith, Metrics: m,
	})
	// Reads never return an expired key; the sweep deletes their rows.
	go keys.SweepEvery(ctx, time.Minute, log.With("component", "keys"))
	h.Evaluate = e.rules.EvaluateMany
	apiURL := cfg.Worker.APIURL
	if apiURL == "" {
		apiURL = "http://" + cfg.Listen
	}
	e.workflows = wfengine.New(db, e.svc, e.queue, wfengine.Options{
		Logger: log.With("component", "workflows"), APIURL: apiURL, OnTask: e.metrics.WorkflowTask,
		Config: e.configs.Config,
		// Workflows read system-scoped keys as "system.<name>"; "<name>"
		// (st2kv('<name>'), st2kv.user.<name>) is the requester's key of
		// that name, else the system key.
		KV: func(ctx context.Context, packRef, user, key string, _ bool) (any, error) {
			name, system := strings.CutPrefix(key, "system.")
			if !system {
				mine, err := keys.UserLookup(ctx, db.Ent, packRef, user)
				if err != nil {
					return nil, err
				}
				if v, ok := mine.Plain[name]; ok {
					return v, nil
				}
			}
			vals, err := keys.Lookup(ctx, packRef)
			if err != nil {
				return nil, err
			}
			v, ok := vals.Plain[name]
			if !ok {
				return nil, fmt.Errorf("key %q: %w", name, wfexpr.ErrKeyNotFound)
			}
			return v, nil
		},
	})
	e.svc.SetWorkflows(e.workflows)
	h.Workflow = e.workflows.Step
	e.inquiries = inquiry.New(db, e.svc, e.workflows, e.queue, e.rules, bus, m, log.With("component", "inquiries"))
	e.svc.SetInquiries(e.inquiries)
	h.InquiryTimeout = e.inquiries.Expire
	if concurrency == 0 {
		return e, nil
	}
	e.triggers = trigger.NewExecutionTriggers(db, e.rules, bus, log.With("component", "execution-triggers"))
	h.Triggers = func(ctx context.Context, ids []int) error { return e.triggers.Handle(ctx, ids...) }
	tmp := filepath.Join(cfg.DataDir, "tmp", "worker")
	if err := makeTempDir(tmp, sb); err != nil {
		e.stop(ctx)
		return nil, fmt.Errorf("creating worker temp dir: %w", err)
	}
	// StackStorm python-script actions import attune's own st2common and
	// six from here, and run through its wrapper.
	st2py, err := st2compat.Install(filepath.Join(cfg.DataDir, "st2compat"))
	if err != nil {
		e.stop(ctx)
		return nil, err
	}
	var actionTokens execution.ActionTokenFunc
	if tokens != nil {
		actionTokens = tokens.MintForExecution
	}
	e.worker = e.svc.NewWorker(execution.WorkerOptions{
		Name: cfg.Worker.Name, Concurrency: concurrency, KillGrace: cfg.Worker.KillGrace,
		MaxOutput: cfg.Worker.MaxOutputBytes, APIURL: apiURL, TempDir: tmp, Sandbox: sb,
		InProcess: inproc.Options{
			SSH: inproc.SSHOptions{
				KnownHosts: cfg.Worker.SSH.KnownHosts, HostKeyPolicy: cfg.Worker.SSH.HostKeyPolicy,
				User: cfg.Worker.SSH.User, KeyFile: cfg.Worker.SSH.KeyFile, ConnectTimeout: cfg.Worker.SSH.ConnectTimeout,
			},
			Events: eventEmitter{e.rules},
			Logger: log.With("component", "worker"),
		},
		St2PythonDir: st2py, ActionTokens: actionTokens, Packs: packs,
	})
	h.Execution = e.worker.Run
	if err := e.worker.Start(ctx); err != nil {
		e.stop(ctx)
		return nil, err
	}
	// Not ctx: the shutdown signal ends ctx, and River would cancel the
	// running actions at once; stop lets them finish first.
	if err := e.queue.Start(context.WithoutCancel(ctx)); err != nil {
		e.stop(ctx)
		return nil, err
	}
	e.workflows.StartSweeping(ctx)
	log.Info("worker started", "worker", e.worker.Name(), "concurrency", concurrency)
	return e, nil
}

// makeTempDir creates the directory the runs' private directories go in:
// closed to everyone when actions run as the server's user, searchable
// (not listable) when they run as another, who owns only its own run's.
func makeTempDir(dir string, sb *sandbox.Sandbox) error {
	mode := os.FileMode(0o700)
	if _, _, ok := sb.Owner(); ok {
		mode = 0o711
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Dir(dir), mode); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}

// stop stops taking jobs and lets running actions finish until ctx ends.
// Then it cancels those still running: they end CANCELED with the reason,
// or go back to the queue when their action is idempotent. It closes the
// engine.
func (e *engine) stop(ctx context.Context) {
	var cancelRunning func()
	if e.worker != nil {
		deadline, _ := ctx.Deadline()
		e.log.Info("waiting for running actions", "running", e.worker.Running(),
			"until", deadline.Format(time.RFC3339))
		cancelRunning = func() {
			e.log.Warn("shutdown timeout reached; canceling the actions still running",
				"running", e.worker.CancelRunning(execution.ErrShutdown))
		}
	}
	if err := e.queue.StopGracefully(ctx, cancelRunning); err != nil {
		e.log.Warn("stopping queue", "error", err)
	}
	if e.worker != nil {
		e.worker.Stop(context.WithoutCancel(ctx))
	}
	if e.workflows != nil {
		e.workflows.StopSweeping()
	}
	e.svc.Stop()
	e.queue.Close()
	e.bus.Close()
}

// eventEmitter lets in-process runners (announcement, inject-trigger) emit
// events through the rule engine, as sensors and webhooks do.
type eventEmitter struct{ rules *rule.Engine }

// EmitEvent implements inproc.Emitter.
func (e eventEmitter) EmitEvent(ctx context.Context, trigger string, payload map[string]any, source string) (int, error) {
	ev, err := e.rules.Emit(ctx, rule.Emission{Trigger: trigger, Payload: payload, Source: source})
	if err != nil {
		return 0, err
	}
	return ev.ID, nil
}
