// Package execution runs actions: it accepts requests (the execution row and
// its queue job commit together), runs them on workers through
// internal/runner, cancels them, detects the ones whose worker died, and
// streams their status and output to subscribers on any node.
//
// It is the only writer of Execution.status; every change is a
// compare-and-set following the status machine in status.go and
// docs/execution.md.
package execution

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/ent/execution"
	entpack "github.com/attune-io/attune/ent/pack"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/jinja"
	"github.com/attune-io/attune/internal/manifest"
	"github.com/attune-io/attune/internal/metrics"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/store"
)

// DefaultTimeout bounds an execution whose action sets no timeout.
const DefaultTimeout = 10 * time.Minute

// Enqueuer inserts the job that runs an execution inside the transaction
// that creates it; internal/queue implements it.
type Enqueuer interface {
	InsertExecutionTx(ctx context.Context, tx *store.Tx, executionID int) error
}

// Service accepts, cancels and watches executions, and (Start) keeps the
// history honest: executions of dead workers become ABANDONED and old ones
// are purged.
type Service struct {
	db     *store.DB
	queue  Enqueuer
	bus    *notify.Bus
	log    *slog.Logger
	now    func() time.Time
	opts   Options
	finish *finisher

	stop context.CancelFunc
	done chan struct{}
}

// Options configure a Service.
type Options struct {
	// DefaultTimeout applies when neither the request nor the action sets
	// one; zero means DefaultTimeout.
	DefaultTimeout time.Duration
	// AbandonAfter bounds the time from a worker's death to its executions
	// becoming ABANDONED; zero means DefaultAbandonAfter.
	AbandonAfter time.Duration
	// Retention deletes finished executions older than this; zero keeps them.
	Retention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Sealer encrypts secret parameters at rest while queued; nil stores
	// them as JSON (the server has no encryption key).
	Sealer Sealer
	// Defaults, if set, fills parameters whose schema default is a
	// template (a keystore reference) before validation. Actions of
	// StackStorm's runners skip it: Params renders theirs.
	Defaults DefaultsFunc
	// Params, if set, renders the Jinja templates in the parameters of
	// actions of StackStorm's runners before their run.
	Params ParamsFunc
	// Workflows runs workflow actions; nil fails them in preparation. Set
	// it later with SetWorkflows when the engine needs the Service.
	Workflows Workflows
	// Inquiries runs asking actions (core.ask); nil fails them in
	// preparation. Set it later with SetInquiries.
	Inquiries Inquiries
	// Metrics, when set, counts the executions this node requests and
	// finishes and times their runs.
	Metrics *metrics.Metrics
}

// SetWorkflows sets the workflow engine (before the queue starts).
func (s *Service) SetWorkflows(w Workflows) { s.opts.Workflows = w }

// DefaultsFunc fills the parameters a request left out whose schema default
// is a template, inside the request's transaction (use only tx).
type DefaultsFunc func(ctx context.Context, tx *store.Tx, act *ent.Action, schema param.Schema, given map[string]any) (map[string]any, error)

// NewService returns a Service writing to db, enqueueing on q and
// announcing changes on bus.
func NewService(db *store.DB, q Enqueuer, bus *notify.Bus, o Options) *Service {
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = DefaultTimeout
	}
	if o.AbandonAfter <= 0 {
		o.AbandonAfter = DefaultAbandonAfter
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Service{db: db, queue: q, bus: bus, log: o.Logger, now: o.Now, opts: o,
		finish: newFinisher(db, bus)}
	s.finish.ended = s.childEndedTx
	return s
}

// hint announces a committed change of execution id that a crash may
// cost safely: a new execution (SCHEDULED) and a claim (RUNNING). Either
// is followed by a final status (the run ends, or the execution is
// abandoned), which is announced inside its own transaction, and
// subscribers re-read the row on any hint, so a lost hint only coalesces
// with a later one. Announcing after the commit, batched, keeps the
// NOTIFY out of the writing transaction (see notify.PublishAfterCommit).
func (s *Service) hint(id int) { s.bus.Announce(notify.Event{Kind: notify.Status, ID: id}) }

// Request asks for one run of an action.
type Request struct {
	// Action is the action's ref, "pack.name".
	Action string
	// Loaded, when set, is that action as the caller read it in this
	// transaction or validated it there (the rule engine's rules carry
	// theirs); it is then not read again.
	Loaded *ent.Action
	// Parameters are validated against the action's schema, defaults applied.
	Parameters map[string]any
	// TimeoutSeconds overrides the action's timeout when set (> 0).
	TimeoutSeconds *int
	// ParentID and EnforcementID link the execution to what caused it.
	ParentID      *int
	EnforcementID *int
	// TaskName, TaskItem and TaskRun tell which task of the parent
	// workflow the execution runs (the workflow engine sets them).
	TaskName string
	TaskItem *int
	TaskRun  int
	// CastText casts text given for typed parameters as StackStorm casts
	// rendered templates (an action-chain's parameters render to text).
	CastText bool
	// RerunOf is the execution this one runs again (Rerun).
	RerunOf *int
	// RequestedBy is who asks: an API token's name, "system" (SystemUser)
	// for a rule's enforcement, a workflow's requester for its tasks.
	// Templates of StackStorm actions read it as action_context.user and
	// their st2kv.user keys are this user's.
	RequestedBy string
}

// SystemUser is the requester of what the server starts on its own (a
// rule's enforcement), StackStorm's system user (stanley) in attune.
const SystemUser = "system"

// Request validates req, stores the execution and enqueues its run in one
// transaction. Returns NOT_FOUND for an unknown action and BAD_USER_INPUT
// (details "fields": every violation) for invalid parameters.
//
// The execution returned is the row as inserted (SCHEDULED), not read back:
// its edges and updates go to the database once the transaction committed.
func (s *Service) Request(ctx context.Context, req Request) (*ent.Execution, error) {
	var e *ent.Execution
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		e, err = s.RequestTx(ctx, tx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// RequestTx is Request inside the caller's transaction, so callers (the
// rule engine) can commit an enforcement with the executions it causes.
// The job runs only if tx commits; the new execution is announced after
// the commit, batched (a NOTIFY inside a writing transaction holds
// PostgreSQL's commit lock through its WAL flush).
func (s *Service) RequestTx(ctx context.Context, tx *store.Tx, req Request) (*ent.Execution, error) {
	p, err := s.PrepareTx(ctx, tx, req)
	if err != nil {
		return nil, err
	}
	return s.InsertTx(ctx, tx, p, req.EnforcementID)
}

// Prepared is a request checked against its action and ready to insert
// (see PrepareTx): nothing has been written yet.
type Prepared struct {
	req      Request
	act      *ent.Action
	schema   param.Schema
	params   map[string]any
	redacted map[string]any
	timeout  int
}

// Parameters is what the execution will store: the validated parameters
// with their defaults, secrets redacted.
func (p *Prepared) Parameters() map[string]any { return p.redacted }

// PrepareTx is RequestTx up to the first write: it finds the action
// (req.Loaded if it is req.Action), refuses a disabled one, fills and
// validates the parameters and resolves the timeout, reading through tx.
// Its errors are RequestTx's. A caller that must record the outcome of a
// request before the execution (a rule's enforcement, which the execution
// points to) prepares, writes that record with its final state once, and
// inserts with InsertTx.
func (s *Service) PrepareTx(ctx context.Context, tx *store.Tx, req Request) (*Prepared, error) {
	act, err := req.Loaded, error(nil)
	if act == nil || act.Ref != req.Action {
		act, err = tx.Ent.Action.Query().Where(action.Ref(req.Action)).Only(ctx)
	}
	if ent.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "action %q not found", req.Action)
	}
	if err != nil {
		return nil, fmt.Errorf("loading action %q: %w", req.Action, err)
	}
	if !act.Enabled {
		return nil, apperr.Errorf(apperr.BadUserInput, "action %q is disabled", req.Action)
	}
	schema, err := param.ParseSchema(act.Parameters)
	if err != nil {
		return nil, fmt.Errorf("action %q has an invalid parameter schema: %w", req.Action, err)
	}
	if err := checkImmutable(req.Action, schema, req.Parameters); err != nil {
		return nil, err
	}
	given := req.Parameters
	check := schema
	if RendersJinja(act) {
		// Templates among the given values are rendered before the run,
		// then checked against their types; text given for a typed
		// parameter is cast as StackStorm casts it.
		check = schema.Relaxed(templateNames(given))
		given = jinja.CastGiven(given, schema)
	} else if req.CastText {
		given = jinja.CastGiven(given, schema)
	}
	if !RendersJinja(act) && s.opts.Defaults != nil {
		if given, err = s.opts.Defaults(ctx, tx, act, schema, given); err != nil {
			return nil, err
		}
	}
	params, err := check.Validate(given)
	if err != nil {
		var pe *param.Error
		if errors.As(err, &pe) {
			return nil, apperr.Errorf(apperr.BadUserInput, "invalid parameters for %s: %s", req.Action, pe.Error()).
				WithDetails("fields", fieldDetails(pe))
		}
		return nil, err
	}
	timeout, err := s.timeout(req.TimeoutSeconds, runnerTimeout(act, req.Parameters, params))
	if err != nil {
		return nil, err
	}
	return &Prepared{req: req, act: act, schema: schema, params: params, redacted: schema.Redact(params), timeout: timeout}, nil
}

// InsertTx inserts the execution p prepared in tx, with enforcementID (the
// enforcement that caused it, if any), and its job.
func (s *Service) InsertTx(ctx context.Context, tx *store.Tx, p *Prepared, enforcementID *int) (*ent.Execution, error) {
	act, req := p.act, p.req
	// The pack version current now is the one it runs, whatever an
	// upgrade changes before a worker takes it.
	sums, err := tx.Ent.Pack.Query().Where(entpack.ID(act.PackID)).Select(entpack.FieldChecksum).Strings(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the pack version: %w", err)
	}
	sum := ""
	if len(sums) > 0 {
		sum = sums[0]
	}
	e, err := tx.Ent.Execution.Create().
		SetActionID(act.ID).
		SetActionRef(act.Ref).
		SetPackRef(act.PackRef).
		SetPackChecksum(sum).
		SetNillableParentID(req.ParentID).
		SetTaskName(req.TaskName).
		SetNillableTaskItem(req.TaskItem).
		SetTaskRun(req.TaskRun).
		SetNillableEnforcementID(enforcementID).
		SetNillableRerunOfID(req.RerunOf).
		SetRequestedBy(req.RequestedBy).
		SetStatus(Scheduled).
		SetParameters(p.Parameters()).
		SetTimeoutSeconds(p.timeout).
		SetRequestedAt(s.now()).
		Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating execution: %w", err)
	}
	if secrets := secretValues(p.schema, p.params); len(secrets) > 0 {
		sealed, err := s.seal(secrets)
		if err != nil {
			return nil, err
		}
		if err := tx.Ent.ExecutionSecret.Create().SetExecutionID(e.ID).SetSealed(sealed).Exec(ctx); err != nil {
			return nil, fmt.Errorf("storing secret parameters: %w", err)
		}
	}
	if err := s.queue.InsertExecutionTx(ctx, tx, e.ID); err != nil {
		return nil, err
	}
	tx.AfterCommit(func() {
		s.hint(e.ID)
		s.opts.Metrics.ExecutionRequested(act.Ref, act.PackRef)
	})
	return e, nil
}

// runnerTimeout is the action's timeout in seconds. A StackStorm runner
// declares a timeout parameter (600 for python-script, 60 for the local
// runners): a value given for it wins, then the action's own timeout, then
// the parameter's default.
func runnerTimeout(act *ent.Action, given, params map[string]any) int {
	if _, ok := manifest.RunnerParameters(act.RunnerName)["timeout"]; !ok {
		return act.TimeoutSeconds
	}
	if n, ok := wholeSeconds(given["timeout"]); ok {
		return n
	}
	if act.TimeoutSeconds > 0 {
		return act.TimeoutSeconds
	}
	if n, ok := wholeSeconds(params["timeout"]); ok {
		return n
	}
	return 0
}

// wholeSeconds reads a positive whole number of seconds from a JSON value.
func wholeSeconds(v any) (int, bool) {
	var f float64
	switch t := v.(type) {
	case int:
		f = float64(t)
	case int64:
		f = float64(t)
	case float64:
		f = t
	case json.Number:
		var err error
		if f, err = t.Float64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if f < 1 || f != float64(int(f)) {
		return 0, false
	}
	return int(f), true
}

// timeout resolves an execution's timeout in seconds: the request's, else
// the action's, else the service default.
func (s *Service) timeout(requested *int, actionTimeout int) (int, error) {
	switch {
	case requested != nil && *requested < 0:
		return 0, apperr.Errorf(apperr.BadUserInput, "timeoutSeconds must not be negative").
			WithDetails("fields", []map[string]string{{"field": "timeoutSeconds", "message": "must not be negative"}})
	case requested != nil && *requested > 0:
		return *requested, nil
	case actionTimeout > 0:
		return actionTimeout, nil
	}
	return int(s.opts.DefaultTimeout / time.Second), nil
}

// checkImmutable refuses a value given for an immutable parameter, as
// StackStorm does ("Override of immutable parameter(s) … is unsupported"),
// whatever the value: it keeps its default. Returns BAD_USER_INPUT naming
// every such parameter.
func checkImmutable(ref string, schema param.Schema, given map[string]any) error {
	var fields []param.FieldError
	for name := range given {
		if schema[name].Immutable {
			fields = append(fields, param.FieldError{Field: name, Message: "is immutable: it keeps its default and cannot be given"})
		}
	}
	if len(fields) == 0 {
		return nil
	}
	slices.SortFunc(fields, func(a, b param.FieldError) int { return strings.Compare(a.Field, b.Field) })
	pe := &param.Error{Fields: fields}
	return apperr.Errorf(apperr.BadUserInput, "invalid parameters for %s: %s", ref, pe.Error()).
		WithDetails("fields", fieldDetails(pe))
}

func fieldDetails(pe *param.Error) []map[string]string {
	out := make([]map[string]string, len(pe.Fields))
	for i, f := range pe.Fields {
		out[i] = map[string]string{"field": f.Field, "message": f.Message}
	}
	return out
}

// Cancel stops an execution: one that has not started ends CANCELED at once
// and never runs; a running one becomes CANCELING and the node running it
// kills its process group, then records CANCELED. Canceling twice is
// harmless. Returns NOT_FOUND for an unknown id and CONFLICT when the
// execution already finished.
func (s *Service) Cancel(ctx context.Context, id int) (*ent.Execution, error) {
	for range 5 {
		done, err := s.cancelOnce(ctx, id)
		if err != nil {
			return nil, err
		}
		if done {
			return s.db.Ent.Execution.Get(ctx, id)
		}
	}
	return nil, fmt.Errorf("canceling execution %d: its status keeps changing", id)
}

// CancelActive cancels every execution of a pack that has not finished (a
// forced pack delete calls it) and returns how many it canceled.
func (s *Service) CancelActive(ctx context.Context, packRef string) (int, error) {
	ids, err := s.db.Ent.Execution.Query().
		Where(execution.PackRef(packRef), execution.StatusIn(Requested, Scheduled, Delayed, Running, Canceling, Pausing, Paused, Pending)).IDs(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing active executions of %s: %w", packRef, err)
	}
	n := 0
	for _, id := range ids {
		_, err := s.Cancel(ctx, id)
		switch {
		case err == nil:
			n++
		case apperr.CodeOf(err) != apperr.Conflict && apperr.CodeOf(err) != apperr.NotFound:
			return n, err
		}
	}
	return n, nil
}

// cancelOnce tries one compare-and-set; false means the status changed
// under it and the caller should look again.
func (s *Service) cancelOnce(ctx context.Context, id int) (bool, error) {
	done := false
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		e, err := tx.Ent.Execution.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.Errorf(apperr.NotFound, "execution %d not found", id)
		}
		if err != nil {
			return err
		}
		switch e.Status {
		case Requested, Scheduled, Delayed, Running, Pausing, Paused, Pending:
			done, err = s.CancelTx(ctx, tx, e)
			return err
		case Canceling:
			done = true
			return nil
		}
		return apperr.Errorf(apperr.Conflict, "execution %d already finished with status %s", id, e.Status)
	})
	return done, err
}

// finished counts e, which this node moved to final status to.
func (s *Service) finished(e *ent.Execution, to execution.Status) {
	s.opts.Metrics.ExecutionFinished(e.ActionRef, e.PackRef, string(to))
}

// get reads one execution, NOT_FOUND when it does not exist.
func (s *Service) get(ctx context.Context, id int) (*ent.Execution, error) {
	e, err := s.db.Ent.Execution.Query().Where(execution.ID(id)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "execution %d not found", id)
	}
	return e, err
}
