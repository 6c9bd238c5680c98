// Package engine runs workflows: attune workflow files, StackStorm Orquesta
// workflows and action-chains, compiled by internal/workflow/spec into one
// task graph. A workflow is an execution (the parent) whose tasks run as
// child executions through the normal queue, runners and timeouts.
//
// The engine is durable and has no singleton: a workflow's state is a row
// (WorkflowExecution.state) changed only by steps, River jobs inserted in
// the transaction that ends a child (or pauses, resumes, cancels the
// workflow). A step locks the row, takes in every child that ended since
// the last step (each exactly once: task_reported), starts what comes next
// in the same transaction, and ends the workflow when nothing is left. Any
// node with the worker role runs steps; a node killed mid-step loses its
// transaction and the step runs again elsewhere. A sweep on every node
// requeues the step of a workflow whose child ended without one.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"entgo.io/ent/dialect"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/ent/workflowexecution"
	"github.com/attune-io/attune/internal/apperr"
	xexec "github.com/attune-io/attune/internal/execution"
	"github.com/attune-io/attune/internal/jinja"
	"github.com/attune-io/attune/internal/store"
	"github.com/attune-io/attune/internal/workflow/spec"
)

// Queue inserts workflow steps (internal/queue implements it).
type Queue interface {
	InsertWorkflowTx(ctx context.Context, tx *store.Tx, executionID int, at time.Time) error
	// DropWaitingWorkflowStepsTx deletes the steps of the workflow that
	// wait to run now: the step calling it, holding the workflow's lock,
	// does their work.
	DropWaitingWorkflowStepsTx(ctx context.Context, tx *store.Tx, executionID int) (int64, error)
}

// Options configure an Engine.
type Options struct {
	Logger *slog.Logger
	// Config reads a pack's config (expressions' config / config_context).
	Config func(ctx context.Context, packRef string) (map[string]any, error)
	// KV reads a key of the key/value store as pack code sees it; user is
	// the workflow's requester (whose keys st2kv('<name>') and
	// st2kv.user.<name> read).
	KV func(ctx context.Context, packRef, user, key string, decrypt bool) (any, error)
	// APIURL is given to workflows as ctx().st2.api_url.
	APIURL string
	// SweepEvery is how often this node looks for workflows whose step
	// went missing; zero means 5 s.
	SweepEvery time.Duration
	// OnTask, if set, is told each task run's end (metrics).
	OnTask func(status string)
}

// Engine runs workflows. Safe for concurrent use.
type Engine struct {
	db    *store.DB
	exec  *xexec.Service
	queue Queue
	log   *slog.Logger
	opts  Options
	jinja *jinja.Env

	mu     sync.Mutex
	parsed map[string]*spec.Workflow // by language + source
	stop   context.CancelFunc
	done   chan struct{}
}

// New returns an Engine over db requesting children through svc.
func New(db *store.DB, svc *xexec.Service, q Queue, o Options) *Engine {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = 5 * time.Second
	}
	return &Engine{db: db, exec: svc, queue: q, log: o.Logger, opts: o,
		jinja: jinja.New(jinja.Options{}), parsed: map[string]*spec.Workflow{}}
}

// Handles reports whether act runs as a workflow.
func (e *Engine) Handles(act *ent.Action) bool {
	_, ok := spec.LanguageForRunner(act.RunnerName)
	return ok
}

// WakeTx inserts a step of the workflow of execution id in tx.
func (e *Engine) WakeTx(ctx context.Context, tx *store.Tx, id int) error {
	return e.queue.InsertWorkflowTx(ctx, tx, id, time.Time{})
}

// parse parses a workflow's source, cached by its text.
func (e *Engine) parse(lang spec.Language, file, source string) (*spec.Workflow, error) {
	key := string(lang) + "\x00" + file + "\x00" + source
	e.mu.Lock()
	wf := e.parsed[key]
	e.mu.Unlock()
	if wf != nil {
		return wf, nil
	}
	wf, err := spec.Parse(file, []byte(source), lang)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if len(e.parsed) > 256 {
		clear(e.parsed)
	}
	e.parsed[key] = wf
	e.mu.Unlock()
	return wf, nil
}

// Start begins the workflow of execution ex (claimed by worker, RUNNING):
// it reads and parses the workflow file, renders input and vars, stores the
// state, detaches ex from the worker and requests the first tasks, all in
// one transaction.
func (e *Engine) Start(ctx context.Context, ex *ent.Execution, act *ent.Action, secrets map[string]any, worker string) error {
	lang, _ := spec.LanguageForRunner(act.RunnerName)
	pack := act.Edges.Pack
	if pack == nil || pack.Path == "" {
		return fmt.Errorf("pack %s has no files on this node", ex.PackRef)
	}
	if act.EntryPoint == "" {
		return fmt.Errorf("action %s names no workflow file", act.Ref)
	}
	seedRow, seed, err := seedOf(ctx, e.db.Ent, ex.ID)
	if err != nil {
		return err
	}
	var src []byte
	file := act.EntryPoint
	if seed != nil {
		// A re-run runs the workflow its original ran.
		src, file, lang = []byte(seedRow.Source), seedRow.File, spec.Language(seedRow.Language)
	} else if src, err = os.ReadFile(filepath.Join(pack.Path, act.EntryPoint)); err != nil {
		return fmt.Errorf("reading workflow file: %w", err)
	}
	wf, err := e.parse(lang, file, string(src))
	if err != nil {
		return err
	}
	params := make(map[string]any, len(ex.Parameters)+len(secrets))
	for k, v := range ex.Parameters {
		params[k] = v
	}
	for k, v := range secrets {
		params[k] = v
	}
	params = jinja.ContextValue(params).(map[string]any)
	st := &state{Params: params, Vars: map[string]any{}}
	for k := range secrets {
		st.Secrets = append(st.Secrets, k)
	}
	w := &walk{e: e, wf: wf, st: st, execID: ex.ID, packRef: ex.PackRef, user: ex.RequestedBy, ctx: ctx}
	var kept map[string]map[int]any
	if seed != nil {
		kept = w.reseed(seed)
		w.st.restoreSecrets(w.st.secretValues())
	} else if err := w.init(); err != nil {
		return err
	}
	return e.db.InTx(ctx, func(tx *store.Tx) error {
		n, err := tx.Ent.Execution.Update().
			Where(execution.ID(ex.ID), execution.StatusEQ(execution.StatusRUNNING), execution.Worker(worker)).
			SetWorker("").Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil // canceled meanwhile: the cancel recorded its end
		}
		if seed != nil {
			w.tx, w.status, w.wfID = tx, execution.StatusRUNNING, seedRow.ID
			for _, name := range seed.Tasks {
				if wf.Tasks[name] == nil {
					w.fail("", fmt.Sprintf("task %q is not in the workflow", name), nil)
					continue
				}
				r := &taskRun{ID: len(w.st.Runs) + 1, Task: name, Status: execution.StatusSCHEDULED, Started: w.now(), Kept: kept[name]}
				w.st.Runs = append(w.st.Runs, r)
				w.begin(r, nil)
			}
			return w.finishStep()
		}
		row, err := tx.Ent.WorkflowExecution.Create().
			SetExecutionID(ex.ID).SetLanguage(string(lang)).SetFile(file).SetSource(string(src)).
			SetStatus(workflowexecution.StatusRUNNING).Save(ctx)
		if err != nil {
			return fmt.Errorf("storing the workflow: %w", err)
		}
		w.tx, w.status, w.wfID = tx, execution.StatusRUNNING, row.ID
		for _, name := range wf.Start {
			w.schedule(name, "")
		}
		return w.finishStep()
	})
}

// Step advances the workflow of execution id: the queue's handler for
// workflow jobs. It is idempotent.
func (e *Engine) Step(ctx context.Context, id int) error {
	var retryAt time.Time
	err := e.db.InTx(ctx, func(tx *store.Tx) error {
		if e.db.Dialect == dialect.Postgres {
			// One step of a workflow at a time, across nodes.
			if _, err := tx.SQL.ExecContext(ctx, "SELECT 1 FROM workflow_executions WHERE execution_id = $1 FOR UPDATE", id); err != nil {
				return err
			}
		}
		// The steps queued meanwhile (a child's end each) would find
		// nothing this one does not take in: they go, before anything is read.
		if _, err := e.queue.DropWaitingWorkflowStepsTx(ctx, tx, id); err != nil {
			return err
		}
		// The state is read as the JSON it is stored as, straight into
		// state: it holds a with-items task's items, and decoding it into
		// ent's map and re-encoding that took a good part of a step.
		row, err := tx.Ent.WorkflowExecution.Query().Where(workflowexecution.ExecutionID(id)).
			Select(workflowexecution.FieldID, workflowexecution.FieldLanguage, workflowexecution.FieldFile, workflowexecution.FieldSource).
			Only(ctx)
		if ent.IsNotFound(err) {
			return nil // purged
		}
		if err != nil {
			return err
		}
		ex, err := tx.Ent.Execution.Query().Where(execution.ID(id)).
			Select(execution.FieldID, execution.FieldStatus, execution.FieldPackRef, execution.FieldRequestedBy).Only(ctx)
		if err != nil {
			return err
		}
		if xexec.Finished(ex.Status) {
			// Ended some other way than by its last step: its secrets go.
			return e.exec.DropSecretsTx(ctx, tx, id)
		}
		wf, err := e.parse(spec.Language(row.Language), row.File, row.Source)
		if err != nil {
			return err
		}
		st := &state{}
		var raw []byte
		if err := tx.SQL.QueryRowContext(ctx, e.sql("SELECT state FROM workflow_executions WHERE id = $1"), row.ID).Scan(&raw); err != nil {
			return fmt.Errorf("reading the state of workflow %d: %w", id, err)
		}
		if len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, st); err != nil {
				return fmt.Errorf("decoding the state of workflow %d: %w", id, err)
			}
		}
		st.normalize()
		if st.Vars == nil {
			st.Vars = map[string]any{}
		}
		w := &walk{e: e, wf: wf, st: st, execID: id, packRef: ex.PackRef, user: ex.RequestedBy, ctx: ctx, tx: tx, status: ex.Status, wfID: row.ID}
		if len(st.Secrets) > 0 {
			secrets, err := e.exec.SecretsTx(ctx, tx, id)
			if err != nil {
				return fmt.Errorf("reading the secret parameters of workflow %d: %w", id, err)
			}
			if secrets != nil {
				st.restoreSecrets(jsonValues(secrets))
				w.secretsKept = true
			}
		}
		if err := w.takeEnded(); err != nil {
			return err
		}
		w.startDue()
		if err := w.finishStep(); err != nil {
			return err
		}
		retryAt = w.nextDue
		return nil
	})
	if err != nil {
		e.log.Warn("workflow step failed; it is tried again", "execution_id", id, "error", err)
		return fmt.Errorf("workflow %d: %w", id, err)
	}
	e.wakeAt(id, retryAt)
	return nil
}

// jsonValues returns secrets as the stored state's values read: numbers
// decoded as float64, whole ones made ints (state.normalize).
func jsonValues(secrets map[string]any) map[string]any {
	raw, err := json.Marshal(secrets)
	if err != nil {
		return secrets
	}
	var out map[string]any
	if json.Unmarshal(raw, &out) != nil {
		return secrets
	}
	out, _ = jinja.ContextValue(out).(map[string]any)
	return out
}

// sql adapts a statement written with PostgreSQL's $n placeholders to the
// database's dialect.
func (e *Engine) sql(query string) string {
	if e.db.Dialect == dialect.Postgres {
		return query
	}
	return sqlitePlaceholder.ReplaceAllString(query, "?$1")
}

var sqlitePlaceholder = regexp.MustCompile(`\$(\d+)`)

// wakeAt inserts a step of workflow id at t (a delay ending), from this
// node's clock; the scheduled job stored with the delay is the fallback
// should this node die first.
func (e *Engine) wakeAt(id int, t time.Time) {
	if t.IsZero() {
		return
	}
	time.AfterFunc(time.Until(t), func() {
		ctx := context.Background()
		err := e.db.InTx(ctx, func(tx *store.Tx) error { return e.WakeTx(ctx, tx, id) })
		if err != nil {
			e.log.Warn("waking a delayed workflow task", "execution_id", id, "error", err)
		}
	})
}

// Pause asks a running workflow to pause: running tasks finish, none
// starts, and it is PAUSED once nothing runs. Child workflows pause too.
// CONFLICT when it is not a running workflow.
func (e *Engine) Pause(ctx context.Context, id int) error {
	return e.db.InTx(ctx, func(tx *store.Tx) error {
		if err := e.mustBeWorkflow(ctx, tx, id); err != nil {
			return err
		}
		return e.pauseTx(ctx, tx, id, true)
	})
}

func (e *Engine) pauseTx(ctx context.Context, tx *store.Tx, id int, top bool) error {
	ok, err := e.exec.SetStatusTx(ctx, tx, id, execution.StatusPAUSING, nil)
	if err != nil {
		return err
	}
	if !ok {
		if !top {
			return nil
		}
		ex, err := tx.Ent.Execution.Get(ctx, id)
		if err != nil {
			return err
		}
		if ex.Status == execution.StatusPAUSING || ex.Status == execution.StatusPAUSED {
			return nil // pausing twice is harmless
		}
		return apperr.Errorf(apperr.Conflict, "execution %d is %s: only a running workflow can be paused", id, ex.Status)
	}
	kids, err := tx.Ent.Execution.Query().
		Where(execution.ParentID(id), execution.StatusEQ(execution.StatusRUNNING), execution.HasWorkflowExecutions()).IDs(ctx)
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := e.pauseTx(ctx, tx, k, false); err != nil {
			return err
		}
	}
	return e.WakeTx(ctx, tx, id)
}

// Resume resumes a paused (or pausing) workflow and its paused children.
// CONFLICT when it is neither.
func (e *Engine) Resume(ctx context.Context, id int) error {
	return e.db.InTx(ctx, func(tx *store.Tx) error {
		if err := e.mustBeWorkflow(ctx, tx, id); err != nil {
			return err
		}
		return e.resumeTx(ctx, tx, id, true)
	})
}

// ResumeTx resumes, inside tx, the paused workflow of execution id and its
// paused children; nothing when it is not paused. An answered inquiry
// resumes the workflows it paused this way.
func (e *Engine) ResumeTx(ctx context.Context, tx *store.Tx, id int) error {
	return e.resumeTx(ctx, tx, id, false)
}

func (e *Engine) resumeTx(ctx context.Context, tx *store.Tx, id int, top bool) error {
	ex, err := tx.Ent.Execution.Get(ctx, id)
	if err != nil {
		return err
	}
	if ex.Status != execution.StatusPAUSED && ex.Status != execution.StatusPAUSING {
		if !top {
			return nil
		}
		return apperr.Errorf(apperr.Conflict, "execution %d is %s: only a paused workflow can be resumed", id, ex.Status)
	}
	ok, err := e.exec.SetStatusTx(ctx, tx, id, execution.StatusRUNNING, nil)
	if err != nil || !ok {
		return err
	}
	if err := tx.Ent.WorkflowExecution.Update().Where(workflowexecution.ExecutionID(id)).
		SetStatus(workflowexecution.StatusRUNNING).Exec(ctx); err != nil {
		return err
	}
	kids, err := tx.Ent.Execution.Query().
		Where(execution.ParentID(id), execution.StatusIn(execution.StatusPAUSED, execution.StatusPAUSING), execution.HasWorkflowExecutions()).IDs(ctx)
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := e.resumeTx(ctx, tx, k, false); err != nil {
			return err
		}
	}
	return e.WakeTx(ctx, tx, id)
}

// mustBeWorkflow returns NOT_FOUND for an unknown execution and CONFLICT
// for one that is not a workflow.
func (e *Engine) mustBeWorkflow(ctx context.Context, tx *store.Tx, id int) error {
	ok, err := tx.Ent.Execution.Query().Where(execution.ID(id)).Exist(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.Errorf(apperr.NotFound, "execution %d not found", id)
	}
	wf, err := tx.Ent.WorkflowExecution.Query().Where(workflowexecution.ExecutionID(id)).Exist(ctx)
	if err != nil {
		return err
	}
	if !wf {
		return apperr.Errorf(apperr.Conflict, "execution %d is not a workflow: only workflows can be paused and resumed", id)
	}
	return nil
}

// StartSweeping looks, every SweepEvery, for workflows that need a step
// nobody queued: a child ended but was not taken in (its step was lost
// with a node), or a workflow runs with nothing running. Call StopSweeping
// to end it.
func (e *Engine) StartSweeping(ctx context.Context) {
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	e.stop, e.done = stop, make(chan struct{})
	go func() {
		defer close(e.done)
		t := time.NewTicker(e.opts.SweepEvery)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
				if err := e.Sweep(lctx, time.Now().Add(-e.opts.SweepEvery)); err != nil && !errors.Is(err, context.Canceled) {
					e.log.Warn("workflow sweep", "error", err)
				}
			}
		}
	}()
}

// StopSweeping ends StartSweeping.
func (e *Engine) StopSweeping() {
	if e.stop != nil {
		e.stop()
		<-e.done
	}
}

// Sweep queues a step for every workflow with a child that ended before
// `before` and was not taken in, and for every unfinished workflow not
// changed since before with no child under way.
func (e *Engine) Sweep(ctx context.Context, before time.Time) error {
	ended := xexec.FinalStatuses
	var parents []struct {
		ParentID int `json:"parent_id"`
	}
	err := e.db.Ent.Execution.Query().
		Where(execution.TaskReported(false), execution.ParentIDNotNil(), execution.StatusIn(ended...),
			execution.FinishedAtLT(before), execution.HasParentWith(execution.HasWorkflowExecutions())).
		GroupBy(execution.FieldParentID).Scan(ctx, &parents)
	if err != nil {
		return err
	}
	ids := make(map[int]bool)
	for _, p := range parents {
		ids[p.ParentID] = true
	}
	idle, err := e.db.Ent.WorkflowExecution.Query().
		Where(workflowexecution.UpdatedAtLT(before.Add(-time.Minute)),
			workflowexecution.HasExecutionWith(execution.StatusIn(execution.StatusRUNNING, execution.StatusCANCELING, execution.StatusPAUSING),
				execution.Not(execution.HasChildrenWith(execution.StatusNotIn(ended...))))).
		Select(workflowexecution.FieldExecutionID).All(ctx)
	if err != nil {
		return err
	}
	for _, w := range idle {
		if w.ExecutionID != nil {
			ids[*w.ExecutionID] = true
		}
	}
	for id := range ids {
		if err := e.db.InTx(ctx, func(tx *store.Tx) error { return e.WakeTx(ctx, tx, id) }); err != nil {
			return err
		}
	}
	return nil
}
