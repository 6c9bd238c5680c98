package execution

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/ent/executionoutput"
	"github.com/attune-io/attune/ent/executionsecret"
	"github.com/attune-io/attune/ent/worker"
	"github.com/attune-io/attune/internal/inproc"
	"github.com/attune-io/attune/internal/manifest"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/queue"
	"github.com/attune-io/attune/internal/runner"
	"github.com/attune-io/attune/internal/sandbox"
	"github.com/attune-io/attune/internal/store"
)

// errCanceledByUser is the cause given to a run's context by cancelExecution;
// any other cancellation is the worker shutting down.
var errCanceledByUser = errors.New("canceled by request")

// ErrShutdown is the cause a server gives CancelRunning when its shutdown
// timeout ends: the runs still going end CANCELED, or go back to the queue
// when their action is idempotent.
var ErrShutdown = errors.New("the server shut down before the action finished")

// WorkerOptions configure a Worker.
type WorkerOptions struct {
	// Name identifies this worker on the executions it runs; it must be
	// unique among live workers. Empty means host:pid:random.
	Name string
	// Concurrency is recorded on the worker's heartbeat row.
	Concurrency int
	// KillGrace is the time between SIGTERM and SIGKILL on timeout or cancel.
	KillGrace time.Duration
	// MaxOutput caps each captured stream, in bytes.
	MaxOutput int
	// APIURL is given to actions as ATTUNE_API_URL.
	APIURL string
	// TempDir holds parameter files; it should be private to the worker.
	TempDir string
	// InProcess sets the runners that run inside the worker (http-request,
	// remote-shell-*, announcement…): SSH logins and host keys, events.
	InProcess inproc.Options
	// St2PythonDir is attune's StackStorm compatibility package, installed
	// by st2compat.Install; python-script actions fail in preparation
	// without it.
	St2PythonDir string
	// ActionTokens mints the token of a python-script action's
	// action_service; nil leaves the action without the key/value store.
	ActionTokens ActionTokenFunc
	// Sandbox, when enabled, confines every action process (see package
	// sandbox); nil runs them as the worker's own user.
	Sandbox *sandbox.Sandbox
	// Packs, when set, makes the pack version an execution was requested
	// with ready on this node (written from the database, environment
	// built) and says where; nil runs actions where the pack row says.
	Packs PackPreparer
}

// PackPreparer makes a version of a pack ready on this node: its directory
// and its Python environment ("" for none). An empty checksum means the
// pack's current version.
type PackPreparer interface {
	PrepareDirs(ctx context.Context, ref, checksum string) (dir, envPath string, err error)
}

// Worker runs executions taken from the queue, keeps its heartbeat and
// stops canceled runs.
type Worker struct {
	svc  *Service
	opts WorkerOptions

	mu      sync.Mutex
	running map[int]context.CancelCauseFunc

	stop context.CancelFunc
	done chan struct{}
}

// NewWorker returns a Worker for s; call Start before the queue starts.
func (s *Service) NewWorker(o WorkerOptions) *Worker {
	if o.Name == "" {
		host, _ := os.Hostname()
		o.Name = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), strconv.FormatInt(time.Now().UnixNano()%1e6, 36))
	}
	return &Worker{svc: s, opts: o, running: map[int]context.CancelCauseFunc{}}
}

// Name is the identity recorded on the executions this worker runs.
func (w *Worker) Name() string { return w.opts.Name }

// Start registers the heartbeat and starts the background loop. Stop ends it.
func (w *Worker) Start(ctx context.Context) error {
	if err := w.heartbeat(ctx); err != nil {
		return err
	}
	sub := w.svc.bus.Subscribe(func(ev notify.Event) bool { return ev.Kind == notify.Cancel })
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	w.stop, w.done = stop, make(chan struct{})
	go w.loop(lctx, sub)
	return nil
}

// Stop ends the background loop and removes the heartbeat row, so any
// execution still marked as this worker's is abandoned at the next sweep.
// Call it after the queue stopped.
func (w *Worker) Stop(ctx context.Context) {
	if w.stop == nil {
		return
	}
	w.stop()
	<-w.done
	if _, err := w.svc.db.Ent.Worker.Delete().Where(worker.Name(w.opts.Name)).Exec(ctx); err != nil {
		w.svc.log.Warn("removing worker heartbeat", "worker", w.opts.Name, "error", err)
	}
}

func (w *Worker) loop(ctx context.Context, sub *notify.Subscription) {
	defer close(w.done)
	defer sub.Close()
	ticker := time.NewTicker(w.svc.beat())
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Ready():
			for _, ev := range sub.Take() {
				w.cancelLocal(ev.ID)
			}
		case <-ticker.C:
			w.sweep(ctx)
		}
	}
}

// sweep is the periodic work: the heartbeat, and a cancel check in case a
// notification was lost.
func (w *Worker) sweep(ctx context.Context) {
	log := w.svc.log
	if err := w.heartbeat(ctx); err != nil {
		log.Warn("worker heartbeat", "worker", w.opts.Name, "error", err)
	}
	canceling, err := w.svc.db.Ent.Execution.Query().
		Where(execution.StatusEQ(Canceling), execution.Worker(w.opts.Name)).IDs(ctx)
	if err != nil {
		log.Warn("checking cancel requests", "error", err)
	}
	for _, id := range canceling {
		w.cancelLocal(id)
	}
	if err := w.svc.ReleaseDelayed(ctx); err != nil {
		log.Warn("releasing delayed executions", "error", err)
	}
}

func (w *Worker) heartbeat(ctx context.Context) error {
	now := w.svc.now()
	err := w.svc.db.Ent.Worker.Create().
		SetName(w.opts.Name).
		SetHostname(strings.SplitN(w.opts.Name, ":", 2)[0]).
		SetPid(os.Getpid()).
		SetConcurrency(w.opts.Concurrency).
		SetStartedAt(now).
		SetHeartbeatAt(now).
		OnConflictColumns(worker.FieldName).
		Update(func(u *ent.WorkerUpsert) { u.SetHeartbeatAt(now) }).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("worker heartbeat: %w", err)
	}
	return nil
}

// Running is how many runs this worker has under way.
func (w *Worker) Running() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.running)
}

// CancelRunning cancels every run under way with cause (ErrShutdown at the
// end of a shutdown timeout) and returns how many it canceled. Each run
// then records its outcome as its context's cause says.
func (w *Worker) CancelRunning(cause error) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, cancel := range w.running {
		cancel(cause)
	}
	return len(w.running)
}

func (w *Worker) cancelLocal(id int) {
	w.mu.Lock()
	cancel := w.running[id]
	w.mu.Unlock()
	if cancel != nil {
		cancel(errCanceledByUser)
	}
}

// Run is the queue handler: it runs execution id at most once. A job that
// the queue delivers again (a retry, a rescue after a crash) finds the
// execution already claimed and never starts it a second time: if the
// claiming worker is alive it waits, otherwise the execution is ABANDONED.
func (w *Worker) Run(ctx context.Context, id int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w.mu.Lock()
	w.running[id] = cancel
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.running, id)
		w.mu.Unlock()
	}()

	c, err := w.claim(ctx, id)
	if err != nil || c == nil {
		return err
	}
	return w.execute(ctx, c)
}

// claimed is an execution this worker now owns, with what the run needs.
type claimed struct {
	exec    *ent.Execution
	action  *ent.Action // nil when the action was deleted meanwhile
	secrets map[string]any
	// badParams is set when the claimed row's parameters do not decode;
	// the run then fails in preparation.
	badParams error
}

// claim moves the execution to RUNNING under this worker's name and takes
// its secrets, in one transaction: one statement (claimFast) when it waits
// to run and has no secrets, else a transaction that reads the row first.
// It returns nil when there is nothing to run, and a queue.Snooze error
// while another live worker owns it.
func (w *Worker) claim(ctx context.Context, id int) (*claimed, error) {
	c, err := w.claimFast(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("claiming execution %d: %w", id, err)
	}
	if c != nil {
		w.svc.hint(id)
		return c, nil
	}
	var snooze bool
	var held *verdict
	err = w.svc.db.InTx(ctx, func(tx *store.Tx) error {
		e, err := tx.Ent.Execution.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil // purged before it ran
		}
		if err != nil {
			return err
		}
		switch e.Status {
		case Requested, Scheduled:
		case Running, Canceling:
			if e.Worker == "" {
				// A workflow: it runs on no worker once started.
				return nil
			}
			alive, err := tx.Ent.Worker.Query().
				Where(worker.Name(e.Worker), worker.HeartbeatAtGTE(w.svc.deadAt())).Exist(ctx)
			if err != nil {
				return err
			}
			if alive && e.Worker != w.opts.Name {
				snooze = true
				return nil
			}
			ok, err := transition(ctx, tx, w.svc.bus, id, Abandoned, w.abandon(e.Worker, "its run was interrupted"))
			if ok {
				tx.AfterCommit(func() { w.svc.finished(e, Abandoned) })
			}
			if ok && err == nil {
				err = w.svc.childEndedTx(ctx, tx, e.ParentID)
			}
			return err
		default:
			return nil // finished or canceled before it started
		}
		var act *ent.Action
		if e.ActionID != nil {
			act, err = tx.Ent.Action.Query().Where(action.ID(*e.ActionID)).WithPack().Only(ctx)
			if err != nil && !ent.IsNotFound(err) {
				return err
			}
		}
		policed := act != nil && act.HasPolicies
		if policed {
			v, err := w.svc.police(ctx, tx, e)
			if err != nil {
				return err
			}
			if !v.run {
				held = &v
				return nil
			}
		}
		ok, err := move(ctx, tx.Ent, id, Running, func(u *ent.ExecutionUpdate) {
			u.Where(execution.StatusIn(claimable...)).SetWorker(w.opts.Name).SetStartedAt(w.svc.now()).AddAttempt(1)
		})
		if err != nil || !ok {
			return err
		}
		e.Attempt++ // as move set it
		c = &claimed{exec: e, action: act}
		if sec, err := tx.Ent.ExecutionSecret.Query().Where(executionsecret.ExecutionID(id)).Only(ctx); err == nil {
			if c.secrets, err = w.svc.unseal(sec.Sealed); err != nil {
				return err
			}
			// A policed action's run keeps them for a retry until it
			// ends (finishInTx).
			if !policed {
				if err := tx.Ent.ExecutionSecret.DeleteOne(sec).Exec(ctx); err != nil {
					return err
				}
			}
		} else if !ent.IsNotFound(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claiming execution %d: %w", id, err)
	}
	if snooze {
		return nil, queue.Snooze(w.svc.beat())
	}
	if held != nil {
		if held.snooze > 0 {
			return nil, snoozeFor(*held)
		}
		return nil, nil // DELAYED or CANCELED by a policy
	}
	if c != nil {
		w.svc.hint(id)
	}
	return c, nil
}

// firstLine is the number of e's first output line: 0, or after the lines
// of its earlier runs when it went back to the queue.
func (w *Worker) firstLine(ctx context.Context, e *ent.Execution) (int, error) {
	if e.Attempt <= 1 {
		return 0, nil
	}
	last, err := w.svc.db.Ent.ExecutionOutput.Query().Where(executionoutput.ExecutionID(e.ID)).
		Aggregate(ent.Max(executionoutput.FieldSeq)).Int(ctx)
	if err != nil {
		// No rows: SQL's MAX is NULL.
		n, cerr := w.svc.db.Ent.ExecutionOutput.Query().Where(executionoutput.ExecutionID(e.ID)).Count(ctx)
		if cerr == nil && n == 0 {
			return 0, nil
		}
		return 0, err
	}
	return last + 1, nil
}

// abandon sets what an ABANDONED execution records.
func (w *Worker) abandon(owner, why string) func(*ent.ExecutionUpdate) {
	return func(u *ent.ExecutionUpdate) {
		u.SetFinishedAt(w.svc.now()).
			SetError(fmt.Sprintf("abandoned: worker %q stopped before the action finished (%s); it is not run again", owner, why))
	}
}

// execute runs a claimed execution and records the outcome. Every outcome,
// including a preparation failure, is final: the job is never retried.
func (w *Worker) execute(ctx context.Context, c *claimed) error {
	e := c.exec
	if wf := w.svc.opts.Workflows; wf != nil && c.action != nil && wf.Handles(c.action) {
		return w.startWorkflow(ctx, c)
	}
	if inq := w.svc.opts.Inquiries; inq != nil && c.action != nil && c.badParams == nil && inq.Handles(c.action) {
		return w.ask(ctx, c)
	}
	began := time.Now()
	decrypted, err := w.render(ctx, c)
	var req runner.Request
	release := func() {}
	inProcess := w.inProcess(c)
	if err == nil && !inProcess {
		err = w.localPack(ctx, c)
	}
	if err == nil && !inProcess {
		req, err = w.request(c)
		if err == nil {
			release, err = w.st2Python(ctx, c, &req)
		}
	}
	secrets := make(map[string]any, len(c.secrets)+len(decrypted))
	for k, v := range c.secrets {
		secrets[k] = v
	}
	for i, v := range decrypted {
		secrets[fmt.Sprintf("\x00decrypted%d", i)] = v
	}
	redact := newRedactor(secrets)
	first, ferr := w.firstLine(ctx, e)
	if ferr != nil {
		release()
		return fmt.Errorf("reading the output of execution %d: %w", e.ID, ferr)
	}
	out := newOutputLog(ctx, w.svc.db, w.svc.bus, w.svc.log, e.ID, first, redact, w.maxOutput())
	var res runner.Result
	switch {
	case err != nil:
		// Rendering or preparation failed: nothing runs.
	case inProcess:
		res, err = w.runInProcess(ctx, c, out.add)
	default:
		req.OnLine = out.add
		res, err = runner.Run(ctx, req)
	}
	release() // the run's token ends with the run, before its outcome is seen
	out.close()

	r := &outcomeRecord{id: e.ID, worker: w.opts.Name, parentID: e.ParentID, finishedAt: w.svc.now()}
	var prep *runner.PrepareError
	switch {
	case errors.As(err, &prep):
		r.to, r.errMsg = Failed, redact.String(prep.Error())
	case err != nil:
		w.svc.log.Error("running execution", "execution_id", e.ID, "error", err)
		r.to, r.errMsg = Failed, "Execution failed in the worker: "+redact.String(err.Error())
	default:
		r.to = outcome(ctx, res)
		recordResult(r, res, redact, runnerName(c.action), e.TimeoutSeconds)
	}
	if r.to == Canceled && !errors.Is(context.Cause(ctx), errCanceledByUser) {
		// The server is shutting down: an idempotent action runs again
		// later, any other ends CANCELED with the reason.
		if c.action != nil && c.action.Idempotent {
			requeued, err := w.requeue(context.WithoutCancel(ctx), e.ID)
			if err != nil {
				return queue.Cancel(fmt.Errorf("handing execution %d back to the queue: %w", e.ID, err))
			}
			if requeued {
				w.svc.log.Info("execution handed back to the queue", "execution_id", e.ID, "action", e.ActionRef)
				return nil
			}
		}
		r.errMsg = "canceled: " + ErrShutdown.Error() + " (shutdown_timeout); it is not run again"
		w.svc.log.Warn("execution canceled by the shutdown", "execution_id", e.ID, "action", e.ActionRef)
	}
	var ok bool
	if c.action != nil && (c.action.HasPolicies || len(c.action.Notify) > 0) {
		ok, err = w.svc.finishInTx(context.WithoutCancel(ctx), r, e, c.action)
	} else {
		ok, err = w.svc.finish.record(context.WithoutCancel(ctx), r)
	}
	if err != nil {
		return queue.Cancel(fmt.Errorf("recording the outcome of execution %d: %w", e.ID, err))
	}
	if !ok {
		w.svc.log.Warn("execution changed while it ran; outcome not recorded", "execution_id", e.ID, "outcome", r.to)
		return nil
	}
	w.svc.finished(e, r.to)
	w.svc.opts.Metrics.ExecutionRan(e.PackRef, string(r.to), time.Since(began))
	return nil
}

// startWorkflow begins the workflow of a claimed workflow action; the
// execution then stays RUNNING, owned by no worker, until its workflow
// ends. A workflow that cannot start fails with the cause.
func (w *Worker) startWorkflow(ctx context.Context, c *claimed) error {
	err := w.localPack(ctx, c)
	if err == nil {
		if err = w.svc.opts.Workflows.Start(ctx, c.exec, c.action, c.secrets, w.opts.Name); err == nil {
			return nil
		}
	}
	return w.failPrepared(ctx, c, err, "workflow changed before it started; outcome not recorded")
}

// failPrepared records claimed execution c FAILED in preparation with
// err's cause (a workflow that could not start, a question that could not
// be asked); changed is logged when c moved on first.
func (w *Worker) failPrepared(ctx context.Context, c *claimed, err error, changed string) error {
	var prep *runner.PrepareError
	if !errors.As(err, &prep) {
		prep = &runner.PrepareError{Cause: err.Error()}
	}
	r := &outcomeRecord{id: c.exec.ID, worker: w.opts.Name, parentID: c.exec.ParentID, finishedAt: w.svc.now(),
		to: Failed, errMsg: prep.Error()}
	ok, rerr := w.svc.finish.record(context.WithoutCancel(ctx), r)
	if rerr != nil {
		return queue.Cancel(fmt.Errorf("recording the outcome of execution %d: %w", c.exec.ID, rerr))
	}
	if !ok {
		w.svc.log.Warn(changed, "execution_id", c.exec.ID)
	}
	return nil
}

// requeue hands execution id, whose run this worker's shutdown cut short,
// back to the queue: SCHEDULED again, with a new job in the same
// transaction, so another worker (or this node after its restart) runs it
// from the start. It reports false when the execution is no longer this
// worker's RUNNING one (a cancel request came first).
func (w *Worker) requeue(ctx context.Context, id int) (bool, error) {
	ok := false
	err := w.svc.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		ok, err = transition(ctx, tx, w.svc.bus, id, Scheduled, func(u *ent.ExecutionUpdate) {
			u.Where(execution.Worker(w.opts.Name)).SetWorker("").ClearStartedAt()
		})
		if err != nil || !ok {
			return err
		}
		return w.svc.queue.InsertExecutionTx(ctx, tx, id)
	})
	return ok, err
}

// outcome maps a finished process to a status.
func outcome(ctx context.Context, res runner.Result) execution.Status {
	switch {
	case res.TimedOut:
		return TimedOut
	case res.Canceled:
		return Canceled // by request, or by the server's shutdown
	case res.ExitCode == 0:
		return Succeeded
	}
	return Failed
}

// recordResult adds the process's outputs, scrubbed of secrets, to r.
func recordResult(r *outcomeRecord, res runner.Result, redact redactor, runnerName string, timeoutSeconds int) {
	result := shapeResult(runnerName, res, timeoutSeconds)
	raw, err := json.Marshal(redact.Value(result))
	if err != nil {
		raw = nil
	}
	msg := redact.String(res.Error)
	if res.Canceled && msg == "canceled" {
		msg = "canceled while running"
	}
	r.ran = true
	r.errMsg = msg
	r.stdout, r.stderr = redact.String(res.Stdout), redact.String(res.Stderr)
	r.stdoutTruncated, r.stderrTruncated = res.StdoutTruncated, res.StderrTruncated
	r.stdoutDropped, r.stderrDropped = res.StdoutDropped, res.StderrDropped
	r.exitCode = res.ExitCode
	r.result = raw
	if runnerName == manifest.St2PythonScript {
		st2PythonVerdict(r, res, redact)
	}
}

func (w *Worker) maxOutput() int {
	if w.opts.MaxOutput > 0 {
		return w.opts.MaxOutput
	}
	return runner.DefaultMaxOutput
}

// localPack points a claimed execution's pack at the version it was
// requested with, made ready on this node.
func (w *Worker) localPack(ctx context.Context, c *claimed) error {
	if w.opts.Packs == nil || c.action == nil || c.badParams != nil {
		return nil
	}
	dir, envPath, err := w.opts.Packs.PrepareDirs(ctx, c.exec.PackRef, c.exec.PackChecksum)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return &runner.PrepareError{Cause: err.Error()}
	}
	c.action.Edges.Pack = &ent.Pack{Ref: c.exec.PackRef, Path: dir, EnvPath: envPath}
	return nil
}

// request builds the runner request for a claimed execution.
func (w *Worker) request(c *claimed) (runner.Request, error) {
	e, act := c.exec, c.action
	if c.badParams != nil {
		return runner.Request{}, &runner.PrepareError{Cause: c.badParams.Error()}
	}
	if act == nil {
		return runner.Request{}, &runner.PrepareError{Cause: fmt.Sprintf("action %s no longer exists", e.ActionRef)}
	}
	pack := act.Edges.Pack
	if pack == nil || pack.Path == "" {
		return runner.Request{}, &runner.PrepareError{Cause: fmt.Sprintf("pack %s has no files on this node", e.PackRef)}
	}
	params := make(map[string]any, len(e.Parameters))
	for k, v := range e.Parameters {
		params[k] = v
	}
	for k, v := range c.secrets {
		params[k] = v
	}
	req := runner.Request{
		PackDir:    pack.Path,
		EntryPoint: act.EntryPoint,
		Parameters: params,
		Delivery:   strings.ToLower(string(act.ParameterDelivery)),
		Timeout:    time.Duration(e.TimeoutSeconds) * time.Second,
		KillGrace:  w.opts.KillGrace,
		MaxOutput:  w.opts.MaxOutput,
		TempDir:    w.opts.TempDir,
		Sandbox:    w.opts.Sandbox,
		Env: map[string]string{
			"ATTUNE_EXECUTION_ID": strconv.Itoa(e.ID),
			"ATTUNE_ACTION_REF":   e.ActionRef,
			"ATTUNE_PACK_REF":     e.PackRef,
			"ATTUNE_API_URL":      w.opts.APIURL,
		},
	}
	switch act.RunnerName {
	case manifest.St2LocalShellCmd, manifest.St2LocalShellScript:
		return req, st2Local(&req, act, params)
	}
	switch act.RunnerType {
	case action.RunnerTypeSHELL:
		req.Runner = runner.Shell
	case action.RunnerTypePYTHON:
		req.Runner = runner.Python
		if pack.EnvPath != "" {
			req.Interpreter = filepath.Join(pack.EnvPath, "bin", "python")
			req.ReadOnly = append(req.ReadOnly, pack.EnvPath)
		}
		req.Env["PYTHONPATH"] = filepath.Join(pack.Path, "lib")
	case action.RunnerTypeNODE:
		req.Runner = runner.Node
		req.Env["NODE_PATH"] = filepath.Join(pack.Path, "node_modules")
	case action.RunnerTypeNATIVE:
		req.Runner = runner.Native
	case action.RunnerTypeLOCAL:
		req.Runner = runner.Local
	case action.RunnerTypeWINRM:
		return runner.Request{}, &runner.PrepareError{Cause: fmt.Sprintf(
			"runner %s is not available: attune does not run Windows commands over WinRM", act.RunnerName)}
	default:
		return runner.Request{}, &runner.PrepareError{Cause: fmt.Sprintf("runner %s is not run by workers", act.RunnerType)}
	}
	return req, nil
}
