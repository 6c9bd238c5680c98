package execution

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"entgo.io/ent/dialect"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/actionpolicy"
	"github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/ent/executionsecret"
	"github.com/attune-io/attune/ent/policyevent"
	"github.com/attune-io/attune/internal/queue"
	"github.com/attune-io/attune/internal/store"
)

// Policies (docs/policies.md) are enforced where an execution starts and
// where it ends, inside the transactions that move it, under a lock per
// action: PostgreSQL's transaction-scoped advisory lock on the action's
// ref (every node takes the same one), SQLite's single writer otherwise.
// Under that lock the counts a decision reads are exact, so a concurrency
// threshold holds across any number of nodes.
//
// Only actions with Action.has_policies take these paths: claimSQL leaves
// them to the claim transaction, and their outcome is recorded by
// finishInTx instead of the batched finisher.

// Delayed is the status of an execution a concurrency policy holds back:
// it has no job; a slot freeing (finishInTx, or the workers' sweep)
// moves the oldest delayed ones back to SCHEDULED with a new job.
const Delayed = execution.StatusDELAYED

// ScheduledAtEnqueuer inserts a job that starts no earlier than at; the
// queue implements it (a retry's delay). Without it a retry starts at once.
type ScheduledAtEnqueuer interface {
	InsertExecutionAtTx(ctx context.Context, tx *store.Tx, executionID int, at time.Time) error
}

// lockAction takes the policy lock of action ref until tx ends.
func (s *Service) lockAction(ctx context.Context, tx *store.Tx, ref string) error {
	if s.db.Dialect != dialect.Postgres {
		return nil // SQLite: one writer at a time already
	}
	_, err := tx.SQL.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext(coalesce(current_schema(), '') || ':policy:' || $1))`, ref)
	if err != nil {
		return fmt.Errorf("locking the policies of %s: %w", ref, err)
	}
	return nil
}

// verdict is what the policies decide for an execution about to run.
type verdict struct {
	run bool
	// snooze, when set, leaves the execution SCHEDULED and its job tries
	// again after it (a rate limit).
	snooze time.Duration
}

// active are the executions of one action that hold or wait for a slot.
type active struct {
	id     int
	status execution.Status
	params map[string]any
}

// loadActive reads the executions of action ref that run or wait to.
func loadActive(ctx context.Context, tx *store.Tx, ref string) ([]active, error) {
	rows, err := tx.Ent.Execution.Query().
		Where(execution.ActionRef(ref), execution.StatusIn(Scheduled, Delayed, Running, Canceling)).
		Select(execution.FieldID, execution.FieldStatus, execution.FieldParameters).
		Order(ent.Asc(execution.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the executions of %s: %w", ref, err)
	}
	out := make([]active, len(rows))
	for i, r := range rows {
		out[i] = active{id: r.ID, status: r.Status, params: r.Parameters}
	}
	return out, nil
}

// sameGroup reports whether a and b have equal values of attrs (all
// executions are one group without attrs).
func sameGroup(attrs []string, a, b map[string]any) bool {
	for _, k := range attrs {
		x, _ := json.Marshal(a[k])
		y, _ := json.Marshal(b[k])
		if string(x) != string(y) {
			return false
		}
	}
	return true
}

// occupancy counts, in e's group under p, the executions running and those
// waiting ahead of e (SCHEDULED or DELAYED with a smaller id).
func occupancy(p *ent.ActionPolicy, all []active, id int, params map[string]any) (running, ahead int) {
	for _, a := range all {
		if a.id == id || !sameGroup(p.ConcurrencyAttributes, a.params, params) {
			continue
		}
		switch a.status {
		case Running, Canceling:
			running++
		case Scheduled, Delayed:
			if a.id < id {
				ahead++
			}
		}
	}
	return running, ahead
}

// addEvent records what policy ref did to execution id.
func (s *Service) addEvent(ctx context.Context, tx *store.Tx, id int, ref string, kind policyevent.Kind, msg string) error {
	return tx.Ent.PolicyEvent.Create().SetExecutionID(id).SetPolicyRef(ref).SetKind(kind).
		SetMessage(msg).SetAt(s.now()).Exec(ctx)
}

// police decides, in the claim transaction tx and under the action's lock,
// whether e (SCHEDULED) may start now. A concurrency policy at its
// threshold DELAYs it or CANCELs it; a rate limit leaves it SCHEDULED and
// snoozes its job until the window allows. Executions start in id order:
// one waiting ahead in its group counts as taking a slot.
func (s *Service) police(ctx context.Context, tx *store.Tx, e *ent.Execution) (verdict, error) {
	if err := s.lockAction(ctx, tx, e.ActionRef); err != nil {
		return verdict{}, err
	}
	pols, err := tx.Ent.ActionPolicy.Query().
		Where(actionpolicy.ActionRef(e.ActionRef), actionpolicy.Enabled(true)).
		Order(ent.Asc(actionpolicy.FieldRef)).All(ctx)
	if err != nil || len(pols) == 0 {
		return verdict{run: true}, err
	}
	var all []active
	for _, p := range pols {
		if p.ConcurrencyThreshold == 0 {
			continue
		}
		if all == nil {
			if all, err = loadActive(ctx, tx, e.ActionRef); err != nil {
				return verdict{}, err
			}
		}
		running, ahead := occupancy(p, all, e.ID, e.Parameters)
		if p.ConcurrencyAction == actionpolicy.ConcurrencyActionCANCEL {
			if running < p.ConcurrencyThreshold {
				continue
			}
			msg := fmt.Sprintf("canceled by policy %s: concurrency threshold %d reached (%d running)", p.Ref, p.ConcurrencyThreshold, running)
			ok, err := transition(ctx, tx, s.bus, e.ID, Canceled, func(u *ent.ExecutionUpdate) {
				u.SetFinishedAt(s.now()).SetError(msg)
			})
			if err != nil || !ok {
				return verdict{}, err
			}
			if _, err := tx.Ent.ExecutionSecret.Delete().Where(executionsecret.ExecutionID(e.ID)).Exec(ctx); err != nil {
				return verdict{}, err
			}
			return verdict{}, s.addEvent(ctx, tx, e.ID, p.Ref, policyevent.KindCANCELED, msg)
		}
		if running+ahead < p.ConcurrencyThreshold {
			continue
		}
		ok, err := transition(ctx, tx, s.bus, e.ID, Delayed, nil)
		if err != nil || !ok {
			return verdict{}, err
		}
		seen, err := tx.Ent.PolicyEvent.Query().
			Where(policyevent.ExecutionID(e.ID), policyevent.KindEQ(policyevent.KindDELAYED)).Exist(ctx)
		if err != nil || seen {
			return verdict{}, err
		}
		return verdict{}, s.addEvent(ctx, tx, e.ID, p.Ref, policyevent.KindDELAYED, fmt.Sprintf(
			"delayed by policy %s: concurrency threshold %d reached (%d running, %d waiting ahead)", p.Ref, p.ConcurrencyThreshold, running, ahead))
	}
	for _, p := range pols {
		if p.RateLimitMax == 0 {
			continue
		}
		window := time.Duration(p.RateLimitWindowSeconds) * time.Second
		since := s.now().Add(-window)
		started, err := tx.Ent.Execution.Query().
			Where(execution.ActionRef(e.ActionRef), execution.StartedAtGTE(since), execution.IDNEQ(e.ID)).
			Order(ent.Asc(execution.FieldStartedAt)).Select(execution.FieldStartedAt).All(ctx)
		if err != nil {
			return verdict{}, err
		}
		ahead, err := tx.Ent.Execution.Query().
			Where(execution.ActionRef(e.ActionRef), execution.StatusIn(Scheduled, Delayed), execution.IDLT(e.ID)).Count(ctx)
		if err != nil {
			return verdict{}, err
		}
		if len(started)+ahead < p.RateLimitMax {
			continue
		}
		// The window allows one more when its oldest start leaves it.
		wait := 100 * time.Millisecond
		if len(started) > 0 && started[0].StartedAt != nil {
			wait = max(wait, started[0].StartedAt.Add(window).Sub(s.now()))
		}
		seen, err := tx.Ent.PolicyEvent.Query().
			Where(policyevent.ExecutionID(e.ID), policyevent.KindEQ(policyevent.KindRATE_LIMITED)).Exist(ctx)
		if err != nil {
			return verdict{}, err
		}
		if !seen {
			if err := s.addEvent(ctx, tx, e.ID, p.Ref, policyevent.KindRATE_LIMITED, fmt.Sprintf(
				"rate limited by policy %s: %d executions started in the last %ds (at most %d)",
				p.Ref, len(started), p.RateLimitWindowSeconds, p.RateLimitMax)); err != nil {
				return verdict{}, err
			}
		}
		return verdict{snooze: wait}, nil
	}
	return verdict{run: true}, nil
}

// release moves the oldest DELAYED executions of action ref that now fit
// under every delaying concurrency policy back to SCHEDULED, each with a
// new job, in tx under the action's lock. It runs when an execution of the
// action ends and in the workers' sweep; with no such policy left (deleted,
// disabled) every delayed one is released.
func (s *Service) release(ctx context.Context, tx *store.Tx, ref string) error {
	if err := s.lockAction(ctx, tx, ref); err != nil {
		return err
	}
	pols, err := tx.Ent.ActionPolicy.Query().
		Where(actionpolicy.ActionRef(ref), actionpolicy.Enabled(true), actionpolicy.ConcurrencyThresholdGT(0),
			actionpolicy.ConcurrencyActionEQ(actionpolicy.ConcurrencyActionDELAY)).All(ctx)
	if err != nil {
		return err
	}
	all, err := loadActive(ctx, tx, ref)
	if err != nil {
		return err
	}
	for i, d := range all {
		if d.status != Delayed {
			continue
		}
		fits := true
		for _, p := range pols {
			taken := 0
			for _, a := range all {
				if a.id == d.id || !sameGroup(p.ConcurrencyAttributes, a.params, d.params) {
					continue
				}
				// Running, or started before d will be: a SCHEDULED one
				// (released in this pass too) or an older DELAYED one.
				if a.status == Running || a.status == Canceling || a.status == Scheduled || (a.status == Delayed && a.id < d.id) {
					taken++
				}
			}
			if taken >= p.ConcurrencyThreshold {
				fits = false
				break
			}
		}
		if !fits {
			continue
		}
		ok, err := transition(ctx, tx, s.bus, d.id, Scheduled, nil)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := s.queue.InsertExecutionTx(ctx, tx, d.id); err != nil {
			return err
		}
		all[i].status = Scheduled
		by := ""
		for _, p := range pols {
			by = cmp.Or(by, p.Ref)
		}
		if err := s.addEvent(ctx, tx, d.id, by, policyevent.KindRELEASED, "a slot freed: scheduled again"); err != nil {
			return err
		}
	}
	return nil
}

// ReleaseDelayed releases what can run of every action with DELAYED
// executions (see release): the sweep that makes up for a node that died
// between an execution's end and its release, and for policies deleted.
func (s *Service) ReleaseDelayed(ctx context.Context) error {
	refs, err := s.db.Ent.Execution.Query().Where(execution.StatusEQ(Delayed)).
		Unique(true).Select(execution.FieldActionRef).Strings(ctx)
	if err != nil {
		return fmt.Errorf("listing delayed executions: %w", err)
	}
	for _, ref := range refs {
		if err := s.db.InTx(ctx, func(tx *store.Tx) error { return s.release(ctx, tx, ref) }); err != nil {
			return fmt.Errorf("releasing delayed executions of %s: %w", ref, err)
		}
	}
	return nil
}

// TriggerEnqueuer inserts the job that emits the execution triggers of
// executions that ended, in the transaction recording the end; the queue
// implements it.
type TriggerEnqueuer interface {
	InsertTriggersTx(ctx context.Context, tx *store.Tx, executionIDs ...int) error
}

// finishInTx records the outcome of a run in a transaction of its own with
// what must commit with it: for an action with policies, a retry of a
// failure or timeout (action.retry) and the release of the executions its
// slot lets run (the run's sealed secrets, kept for a retry, go with it);
// for an action with notify settings, the job that emits its triggers.
func (s *Service) finishInTx(ctx context.Context, r *outcomeRecord, e *ent.Execution, act *ent.Action) (bool, error) {
	var ok bool
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if ok, err = transition(ctx, tx, s.bus, r.id, r.to, r.apply); err != nil || !ok {
			return err
		}
		if err := s.childEndedTx(ctx, tx, r.parentID); err != nil {
			return err
		}
		if tq, isTQ := s.queue.(TriggerEnqueuer); isTQ && len(act.Notify) > 0 {
			if err := tq.InsertTriggersTx(ctx, tx, r.id); err != nil {
				return err
			}
		}
		if !act.HasPolicies {
			return nil
		}
		if err := s.lockAction(ctx, tx, e.ActionRef); err != nil {
			return err
		}
		if r.to == Failed || r.to == TimedOut {
			if err := s.retry(ctx, tx, e, r.to); err != nil {
				return err
			}
		}
		if _, err := tx.Ent.ExecutionSecret.Delete().Where(executionsecret.ExecutionID(e.ID)).Exec(ctx); err != nil {
			return err
		}
		return s.release(ctx, tx, e.ActionRef)
	})
	return ok, err
}

// retry creates the next attempt of e, which ended with status, when a
// retry policy of its action says so: a new execution with e's action,
// parameters (its sealed secrets copied) and origin, retry_of e, whose job
// starts after the policy's delay.
func (s *Service) retry(ctx context.Context, tx *store.Tx, e *ent.Execution, status execution.Status) error {
	pols, err := tx.Ent.ActionPolicy.Query().
		Where(actionpolicy.ActionRef(e.ActionRef), actionpolicy.Enabled(true), actionpolicy.RetryMaxCountGT(0)).
		Order(ent.Asc(actionpolicy.FieldRef)).All(ctx)
	if err != nil {
		return err
	}
	for _, p := range pols {
		if !slices.Contains(p.RetryOn, string(status)) || e.RetryAttempt >= p.RetryMaxCount {
			continue
		}
		n, err := tx.Ent.Execution.Create().
			SetNillableActionID(e.ActionID).SetActionRef(e.ActionRef).SetPackRef(e.PackRef).
			SetNillableParentID(e.ParentID).SetNillableEnforcementID(e.EnforcementID).
			SetStatus(Scheduled).SetParameters(e.Parameters).SetTimeoutSeconds(e.TimeoutSeconds).
			SetRequestedAt(s.now()).SetRetryOfID(e.ID).SetRetryAttempt(e.RetryAttempt + 1).
			SetRequestedBy(e.RequestedBy).Save(ctx)
		if err != nil {
			return fmt.Errorf("creating the retry of execution %d: %w", e.ID, err)
		}
		if sec, err := tx.Ent.ExecutionSecret.Query().Where(executionsecret.ExecutionID(e.ID)).Only(ctx); err == nil {
			if err := tx.Ent.ExecutionSecret.Create().SetExecutionID(n.ID).SetSealed(sec.Sealed).Exec(ctx); err != nil {
				return err
			}
		} else if !ent.IsNotFound(err) {
			return err
		}
		delay := time.Duration(p.RetryDelaySeconds) * time.Second
		if at, ok := s.queue.(ScheduledAtEnqueuer); ok && delay > 0 {
			err = at.InsertExecutionAtTx(ctx, tx, n.ID, s.now().Add(delay))
		} else {
			err = s.queue.InsertExecutionTx(ctx, tx, n.ID)
		}
		if err != nil {
			return err
		}
		tx.AfterCommit(func() { s.hint(n.ID) })
		return s.addEvent(ctx, tx, e.ID, p.Ref, policyevent.KindRETRIED, fmt.Sprintf(
			"%s: retried as execution %d (retry %d of %d) after %ds", status, n.ID, n.RetryAttempt, p.RetryMaxCount, p.RetryDelaySeconds))
	}
	return nil
}

// snoozeFor is the queue's answer for a verdict that waits.
func snoozeFor(v verdict) error { return queue.Snooze(v.snooze) }
