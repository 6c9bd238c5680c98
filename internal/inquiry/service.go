package inquiry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/ent/execution"
	entinq "github.com/attune-io/attune/ent/inquiry"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/auth"
	xexec "github.com/attune-io/attune/internal/execution"
	"github.com/attune-io/attune/internal/manifest"
	"github.com/attune-io/attune/internal/metrics"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/rule"
	"github.com/attune-io/attune/internal/runner"
	"github.com/attune-io/attune/internal/store"
)

// Workflows is what inquiries need of the workflow engine.
type Workflows interface {
	// WakeTx asks the workflow of execution id to take a step.
	WakeTx(ctx context.Context, tx *store.Tx, id int) error
	// ResumeTx resumes the paused workflow of execution id.
	ResumeTx(ctx context.Context, tx *store.Tx, id int) error
}

// Queue schedules inquiries' timeouts.
type Queue interface {
	InsertInquiryTimeoutTx(ctx context.Context, tx *store.Tx, id int, at time.Time) error
}

// Events stores an event in a transaction (the rule engine).
type Events interface {
	EmitTx(ctx context.Context, tx *store.Tx, em rule.Emission) (*ent.Event, error)
}

// Service asks, answers, times out and cancels inquiries.
type Service struct {
	db     *store.DB
	exec   *xexec.Service
	wf     Workflows
	queue  Queue
	events Events
	bus    *notify.Bus
	log    *slog.Logger
	// metrics counts the inquiries this node asks and ends, once
	// committed; nil counts nothing.
	metrics *metrics.Metrics
}

// New returns the inquiries' service; m (nil for none) counts what it does.
func New(db *store.DB, exec *xexec.Service, wf Workflows, q Queue, events Events, bus *notify.Bus, m *metrics.Metrics, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{db: db, exec: exec, wf: wf, queue: q, events: events, bus: bus, metrics: m, log: log}
}

// pendingSQL counts the inquiries waiting for a response; the
// (status, timeout_at) index serves it.
const pendingSQL = `SELECT count(*) FROM inquiries WHERE status = 'PENDING'`

// Pending counts the inquiries waiting for a response, over every node:
// attune_inquiries_pending, read at scrape time.
func (s *Service) Pending(ctx context.Context) (int, error) {
	var n int
	if err := s.db.SQL.QueryRowContext(ctx, pendingSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting pending inquiries: %w", err)
	}
	return n, nil
}

// Handles reports whether act asks a person (runner inquirer).
func (s *Service) Handles(act *ent.Action) bool {
	return act.RunnerType == action.RunnerTypeINQUIRY || act.RunnerName == manifest.St2Inquirer
}

// asker is where an asking execution stands: its workflow and task, and
// the pack of its top workflow.
type asker struct {
	workflowID *int
	task       string
	packRef    string
}

// askerOf reads where execution id stands, in tx.
func askerOf(ctx context.Context, tx *store.Tx, id int) (asker, error) {
	e, err := tx.Ent.Execution.Query().Where(execution.ID(id)).
		Select(execution.FieldParentID, execution.FieldTaskName, execution.FieldPackRef).Only(ctx)
	if err != nil {
		return asker{}, err
	}
	a := asker{workflowID: e.ParentID, task: e.TaskName, packRef: e.PackRef}
	for parent := e.ParentID; parent != nil; {
		p, err := tx.Ent.Execution.Query().Where(execution.ID(*parent)).
			Select(execution.FieldParentID, execution.FieldPackRef).Only(ctx)
		if err != nil {
			return asker{}, err
		}
		a.packRef, parent = p.PackRef, p.ParentID
	}
	return a, nil
}

// Ask implements execution.Inquiries: execution e, claimed by worker,
// becomes PENDING and its inquiry is stored, its timeout scheduled and
// its event emitted, in one transaction.
func (s *Service) Ask(ctx context.Context, e *ent.Execution, act *ent.Action, params map[string]any, worker string) error {
	if schema, err := param.ParseSchema(act.Parameters); err == nil {
		params = schema.WithDefaults(params)
	}
	q, err := ParseQuestion(params)
	if err != nil {
		return &runner.PrepareError{Cause: err.Error()}
	}
	ctx = auth.SystemContext(ctx)
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		at, err := askerOf(ctx, tx, e.ID)
		if err != nil {
			return err
		}
		now := s.exec.Now()
		result, err := json.Marshal(map[string]any{"schema": q.Schema, "roles": q.Roles, "users": q.Users, "route": q.Route, "ttl": q.TTL})
		if err != nil {
			return err
		}
		ok, err := s.exec.SetStatusTx(ctx, tx, e.ID, execution.StatusPENDING, func(u *ent.ExecutionUpdate) {
			u.Where(execution.Worker(worker)).SetResult(result)
		})
		if err != nil || !ok {
			return err // canceled meanwhile: nothing to ask
		}
		timeoutAt := now.Add(time.Duration(q.TTL * float64(time.Minute)))
		c := tx.Ent.Inquiry.Create().SetExecutionID(e.ID).SetNillableWorkflowID(at.workflowID).
			SetTaskName(at.task).SetPackRef(at.packRef).SetPrompt(q.Prompt).SetResponseSchema(q.Schema).
			SetRoute(q.Route).SetTTL(q.TTL).SetTimeoutAt(timeoutAt)
		if len(q.Users) > 0 {
			c.SetAssignedUsers(q.Users)
		}
		if len(q.Roles) > 0 {
			c.SetAssignedRoles(q.Roles)
		}
		inq, err := c.Save(ctx)
		if err != nil {
			return fmt.Errorf("storing the inquiry of execution %d: %w", e.ID, err)
		}
		if err := s.queue.InsertInquiryTimeoutTx(ctx, tx, inq.ID, timeoutAt); err != nil {
			return err
		}
		tx.AfterCommit(func() { s.metrics.Inquiry(metrics.InquiryPending) })
		payload := map[string]any{
			"id": inq.ID, "route": q.Route, "execution_id": e.ID, "prompt": q.Prompt, "schema": q.Schema,
			"users": nonNil(q.Users), "roles": nonNil(q.Roles), "ttl": q.TTL, "timeout_at": timeoutAt.UTC().Format(time.RFC3339),
			"task": at.task,
		}
		if at.workflowID != nil {
			payload["workflow_id"] = *at.workflowID
		}
		if _, err := s.events.EmitTx(ctx, tx, rule.Emission{Trigger: TriggerRef, Payload: payload, Source: "inquirer",
			DedupeKey: fmt.Sprintf("st2.inquiry:%d", inq.ID)}); err != nil && !errors.Is(err, rule.ErrDuplicate) {
			return fmt.Errorf("emitting the inquiry's event: %w", err)
		}
		if err := s.bus.PublishInTx(ctx, tx, notify.Event{Kind: notify.InquiryCreated, ID: inq.ID}); err != nil {
			return err
		}
		if at.workflowID != nil {
			// Its workflow pauses if nothing else runs.
			return s.wf.WakeTx(ctx, tx, *at.workflowID)
		}
		return nil
	})
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// Get reads an inquiry as ctx's principal may: NOT_FOUND otherwise. id is
// the inquiry's, or its asking execution's (StackStorm names an inquiry by
// its execution's id).
func (s *Service) Get(ctx context.Context, id int) (*ent.Inquiry, error) {
	inq, err := s.db.Ent.Inquiry.Query().Where(entinq.Or(entinq.ID(id), entinq.ExecutionID(id))).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "inquiry %d not found", id)
	}
	return inq, err
}

// Respond answers inquiry id as ctx's principal: validated against its
// schema (BAD_USER_INPUT with every field), only by an assigned token or
// role (FORBIDDEN), never by the workflow that asked (FORBIDDEN), and
// only while PENDING: of two answers, one wins and the other is CONFLICT.
func (s *Service) Respond(ctx context.Context, id int, response map[string]any) (*ent.Inquiry, error) {
	inq, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := notPending(inq); err != nil {
		return nil, err
	}
	p, ok := auth.FromContext(ctx)
	if !ok {
		p = auth.System
	}
	if err := mayAnswer(p, inq); err != nil {
		return nil, err
	}
	sys := auth.SystemContext(ctx)
	if err := s.notAsker(sys, p, inq); err != nil {
		return nil, err
	}
	answer, err := ValidateResponse(inq.ResponseSchema, response)
	if err != nil {
		var pe *param.Error
		if errors.As(err, &pe) {
			fields := make([]map[string]string, len(pe.Fields))
			for i, f := range pe.Fields {
				fields[i] = map[string]string{"field": f.Field, "message": f.Message}
			}
			return nil, apperr.Errorf(apperr.BadUserInput, "the response does not match the inquiry's schema: %s", pe.Error()).
				WithDetails("fields", fields)
		}
		return nil, apperr.Errorf(apperr.BadUserInput, "the inquiry's schema: %v", err)
	}
	err = s.db.InTx(sys, func(tx *store.Tx) error {
		if err := s.lockWorkflowsTx(sys, tx, inq); err != nil {
			return err
		}
		now := s.exec.Now()
		n, err := tx.Ent.Inquiry.Update().Where(entinq.ID(inq.ID), entinq.StatusEQ(entinq.StatusPENDING)).
			SetStatus(entinq.StatusRESPONDED).SetResponse(answer).SetRespondedBy(p.Name).SetRespondedAt(now).Save(sys)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.Errorf(apperr.Conflict, "inquiry %d was answered, timed out or canceled meanwhile", inq.ID)
		}
		result := resultOf(inq)
		result["response"] = answer
		return s.endTx(sys, tx, inq, execution.StatusSUCCEEDED, result, "")
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, inq.ID)
}

// notPending is CONFLICT for an inquiry that is no longer PENDING.
func notPending(inq *ent.Inquiry) error {
	switch inq.Status {
	case entinq.StatusPENDING:
		return nil
	case entinq.StatusRESPONDED:
		by := ""
		if inq.RespondedBy != nil {
			by = " by " + *inq.RespondedBy
		}
		return apperr.Errorf(apperr.Conflict, "inquiry %d was already answered%s", inq.ID, by)
	case entinq.StatusTIMEOUT:
		return apperr.Errorf(apperr.Conflict, "inquiry %d timed out at %s", inq.ID, inq.TimeoutAt.UTC().Format(time.RFC3339))
	}
	return apperr.Errorf(apperr.Conflict, "inquiry %d is %s", inq.ID, inq.Status)
}

// mayAnswer applies the inquiry's assignment, as StackStorm does: the
// token's role must be one of roles (a role includes the ones below it)
// when roles are set, its name one of users when users are set. With
// neither, answering needs the OPERATOR role, as running actions does.
// A token without a reading role (METRICS) answers nothing, even when
// named in users.
func mayAnswer(p *auth.Principal, inq *ent.Inquiry) error {
	if p == auth.System {
		return nil
	}
	if !p.Role.AtLeast(auth.Viewer) {
		return apperr.Errorf(apperr.Forbidden, "a %s token may not answer inquiry %d", cmp.Or(string(p.Role), "role-less"), inq.ID)
	}
	if len(inq.AssignedUsers) == 0 && len(inq.AssignedRoles) == 0 {
		if !p.Role.AtLeast(auth.Operator) {
			return apperr.Errorf(apperr.Forbidden, "answering inquiry %d needs the OPERATOR role; this token is %s", inq.ID, p.Role)
		}
		return nil
	}
	rolesOK := len(inq.AssignedRoles) == 0 || slices.ContainsFunc(inq.AssignedRoles, func(r string) bool {
		role := auth.Role(strings.ToUpper(r))
		return role.Valid() && role != auth.Metrics && p.Role.AtLeast(role)
	})
	usersOK := len(inq.AssignedUsers) == 0 || slices.Contains(inq.AssignedUsers, p.Name)
	if rolesOK && usersOK {
		return nil
	}
	var who []string
	if len(inq.AssignedUsers) > 0 {
		who = append(who, "users "+strings.Join(inq.AssignedUsers, ", "))
	}
	if len(inq.AssignedRoles) > 0 {
		who = append(who, "roles "+strings.Join(inq.AssignedRoles, ", "))
	}
	return apperr.Errorf(apperr.Forbidden, "inquiry %d is assigned to %s; this token is %s (%s)",
		inq.ID, strings.Join(who, " and "), p.Name, p.Role)
}

// notAsker refuses the token of a run in the asking execution's own tree
// (the workflow that asked, its tasks): it may not answer itself.
func (s *Service) notAsker(ctx context.Context, p *auth.Principal, inq *ent.Inquiry) error {
	if p.ExecutionID == 0 {
		return nil
	}
	mine, err := s.rootOf(ctx, p.ExecutionID)
	if err != nil {
		return err
	}
	theirs, err := s.rootOf(ctx, inq.ExecutionID)
	if err != nil {
		return err
	}
	if mine == theirs {
		return apperr.Errorf(apperr.Forbidden, "execution %d may not answer inquiry %d: it belongs to the workflow that asked", p.ExecutionID, inq.ID)
	}
	return nil
}

// rootOf is the top execution above id (id itself outside workflows).
func (s *Service) rootOf(ctx context.Context, id int) (int, error) {
	for range 64 {
		e, err := s.db.Ent.Execution.Query().Where(execution.ID(id)).Select(execution.FieldParentID).Only(ctx)
		if err != nil {
			return 0, err
		}
		if e.ParentID == nil {
			return id, nil
		}
		id = *e.ParentID
	}
	return id, nil
}

// resultOf is the asking execution's result while pending: StackStorm's
// inquirer result.
func resultOf(inq *ent.Inquiry) map[string]any {
	return map[string]any{
		"schema": inq.ResponseSchema, "roles": nonNil(inq.AssignedRoles), "users": nonNil(inq.AssignedUsers),
		"route": inq.Route, "ttl": inq.TTL,
	}
}

// lockWorkflowsTx takes, on PostgreSQL, the step lock of every workflow
// above the asking execution of inq (the one Engine.Step takes), from the
// top down as a resume and a canceling step take them. Without it a step
// that saw the execution still PENDING could pause its workflow while the
// answer (or the timeout, the cancel) commits: endTx would find the
// workflow RUNNING and not resume it, and the step woken by the end would
// find it PAUSED, for ever. With it, such a step commits first and endTx
// sees PAUSED, or it waits and sees the execution ended. SQLite has one
// writer at a time.
func (s *Service) lockWorkflowsTx(ctx context.Context, tx *store.Tx, inq *ent.Inquiry) error {
	if s.db.Dialect != dialect.Postgres {
		return nil
	}
	var chain []int
	for id := inq.WorkflowID; id != nil; {
		chain = append(chain, *id)
		w, err := tx.Ent.Execution.Query().Where(execution.ID(*id)).Select(execution.FieldParentID).Only(ctx)
		if err != nil {
			return err
		}
		id = w.ParentID
	}
	for _, id := range slices.Backward(chain) {
		if _, err := tx.SQL.ExecContext(ctx, "SELECT 1 FROM workflow_executions WHERE execution_id = $1 FOR UPDATE", id); err != nil {
			return err
		}
	}
	return nil
}

// endTx ends the asking execution of inq with status to, in tx whose
// compare-and-set already ended inq: the workflows it paused resume (the
// topmost paused one above it, and so every paused one below that), and
// its end wakes its workflow. The end is counted once tx commits.
func (s *Service) endTx(ctx context.Context, tx *store.Tx, inq *ent.Inquiry, to execution.Status, result map[string]any, errMsg string) error {
	top := 0
	for id := inq.WorkflowID; id != nil; {
		w, err := tx.Ent.Execution.Query().Where(execution.ID(*id)).Select(execution.FieldStatus, execution.FieldParentID).Only(ctx)
		if err != nil {
			return err
		}
		if w.Status != execution.StatusPAUSED && w.Status != execution.StatusPAUSING {
			break
		}
		top, id = *id, w.ParentID
	}
	if top != 0 {
		if err := s.wf.ResumeTx(ctx, tx, top); err != nil {
			return err
		}
	}
	raw, err := json.Marshal(result)
	if err != nil {
		return err
	}
	ok, err := s.exec.SetStatusTx(ctx, tx, inq.ExecutionID, to, func(u *ent.ExecutionUpdate) {
		u.SetResult(raw).SetError(errMsg)
	})
	if err != nil {
		return err
	}
	if !ok {
		return apperr.Errorf(apperr.Conflict, "execution %d is no longer waiting for inquiry %d", inq.ExecutionID, inq.ID)
	}
	ended := map[execution.Status]string{
		execution.StatusSUCCEEDED: metrics.InquiryResponded,
		execution.StatusTIMEOUT:   metrics.InquiryTimeout,
		execution.StatusCANCELED:  metrics.InquiryCanceled,
	}[to]
	tx.AfterCommit(func() { s.metrics.Inquiry(ended) })
	return s.bus.PublishInTx(ctx, tx, notify.Event{Kind: notify.InquiryUpdated, ID: inq.ID})
}

// Expire times inquiry id out if it is still PENDING: the queue's handler
// for its timeout job. The asking execution ends TIMEOUT and its
// workflow takes the task's failure path.
func (s *Service) Expire(ctx context.Context, id int) error {
	ctx = auth.SystemContext(ctx)
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		inq, err := tx.Ent.Inquiry.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil // purged with its execution
		}
		if err != nil || inq.Status != entinq.StatusPENDING {
			return err
		}
		if err := s.lockWorkflowsTx(ctx, tx, inq); err != nil {
			return err
		}
		n, err := tx.Ent.Inquiry.Update().Where(entinq.ID(id), entinq.StatusEQ(entinq.StatusPENDING)).
			SetStatus(entinq.StatusTIMEOUT).Save(ctx)
		if err != nil || n == 0 {
			return err
		}
		msg := fmt.Sprintf("inquiry %d timed out: no response within %s", id, time.Duration(inq.TTL*float64(time.Minute)).Round(time.Second))
		return s.endTx(ctx, tx, inq, execution.StatusTIMEOUT, resultOf(inq), msg)
	})
}

// Cancel cancels inquiry id and its asking execution (CANCELED; a
// workflow whose task is canceled by hand is canceled, as in StackStorm).
// CONFLICT when it is no longer PENDING.
func (s *Service) Cancel(ctx context.Context, id int) (*ent.Inquiry, error) {
	inq, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := notPending(inq); err != nil {
		return nil, err
	}
	sys := auth.SystemContext(ctx)
	err = s.db.InTx(sys, func(tx *store.Tx) error {
		if err := s.lockWorkflowsTx(sys, tx, inq); err != nil {
			return err
		}
		e, err := tx.Ent.Execution.Get(sys, inq.ExecutionID)
		if err != nil {
			return err
		}
		ok, err := s.CancelTx(sys, tx, e)
		if err == nil && !ok {
			err = apperr.Errorf(apperr.Conflict, "inquiry %d was answered, timed out or canceled meanwhile", inq.ID)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, inq.ID)
}

// CancelTx implements execution.Inquiries: the PENDING execution e and
// its inquiry end CANCELED in tx.
func (s *Service) CancelTx(ctx context.Context, tx *store.Tx, e *ent.Execution) (bool, error) {
	ctx = auth.SystemContext(ctx)
	inq, err := tx.Ent.Inquiry.Query().Where(entinq.ExecutionID(e.ID)).Only(ctx)
	if err != nil {
		return false, err
	}
	n, err := tx.Ent.Inquiry.Update().Where(entinq.ID(inq.ID), entinq.StatusEQ(entinq.StatusPENDING)).
		SetStatus(entinq.StatusCANCELED).Save(ctx)
	if err != nil || n == 0 {
		return false, err
	}
	if err := s.endTx(ctx, tx, inq, execution.StatusCANCELED, resultOf(inq), "canceled while waiting for a response"); err != nil {
		return false, err
	}
	return true, nil
}
