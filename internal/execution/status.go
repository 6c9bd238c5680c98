package execution

import (
	"context"
	"fmt"
	"slices"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/store"
)

// Statuses, named once for the status machine (docs/execution.md).
const (
	Requested = execution.StatusREQUESTED
	Scheduled = execution.StatusSCHEDULED
	Running   = execution.StatusRUNNING
	Succeeded = execution.StatusSUCCEEDED
	Failed    = execution.StatusFAILED
	TimedOut  = execution.StatusTIMEOUT
	Canceling = execution.StatusCANCELING
	Canceled  = execution.StatusCANCELED
	Abandoned = execution.StatusABANDONED
	// A workflow's: pausing (running tasks finish, none starts), paused.
	Pausing = execution.StatusPAUSING
	Paused  = execution.StatusPAUSED
	// Waiting for a person's answer (an inquiry).
	Pending = execution.StatusPENDING
)

// transitions is the status machine: the statuses each status may be
// entered from. Every write of Execution.status goes through transition,
// which enforces it with a compare-and-set.
var transitions = map[execution.Status][]execution.Status{
	// A claim (from Requested or Scheduled; see claimable), or a workflow
	// resumed, or an answered inquiry's execution going on.
	Running: {Requested, Scheduled, Pausing, Paused, Pending},
	// Back to the queue: an idempotent action's run cut short by a
	// server's shutdown (Worker.requeue), or a DELAYED one whose slot
	// freed (release, policy.go).
	Scheduled: {Running, Delayed},
	// Held back by a concurrency policy (police, policy.go).
	Delayed:   {Requested, Scheduled},
	Pausing:   {Running},
	Paused:    {Running, Pausing},
	Pending:   {Running},
	Canceling: {Running, Pausing, Paused, Pending},
	Canceled:  {Requested, Scheduled, Running, Canceling, Delayed, Pausing, Paused, Pending},
	Succeeded: {Running, Canceling, Pausing, Pending},
	Failed:    {Running, Canceling, Pausing, Pending},
	TimedOut:  {Running, Canceling, Pending},
	Abandoned: {Running, Canceling},
}

// claimable are the statuses a worker claims an execution from: waiting
// to run. (Running is also entered from a workflow's pause or an inquiry,
// which no worker claims.)
var claimable = []execution.Status{Requested, Scheduled}

// FinalStatuses are the statuses nothing changes any more.
var FinalStatuses = []execution.Status{Succeeded, Failed, TimedOut, Canceled, Abandoned}

// Finished reports whether status is final: nothing changes it any more.
func Finished(status execution.Status) bool { return slices.Contains(FinalStatuses, status) }

// transition moves execution id to status `to` if its current status may
// lead there, applying set to the same UPDATE, and announces the change on
// the bus within tx (delivered when tx commits). It reports false when the
// row was not in an allowed status (someone else moved it first). set may
// also narrow the compare-and-set with Where (e.g. to the owning worker).
func transition(ctx context.Context, tx *store.Tx, bus *notify.Bus, id int, to execution.Status,
	set func(*ent.ExecutionUpdate),
) (bool, error) {
	ok, err := move(ctx, tx.Ent, id, to, set)
	if err != nil || !ok {
		return false, err
	}
	if err := bus.PublishInTx(ctx, tx, notify.Event{Kind: notify.Status, ID: id}); err != nil {
		return false, err
	}
	return true, nil
}

// move is transition without the announcement, for a caller that announces
// after commit (see Service.hint), with a transaction's client or, for a single
// statement, the database's.
func move(ctx context.Context, client *ent.Client, id int, to execution.Status, set func(*ent.ExecutionUpdate)) (bool, error) {
	from, ok := transitions[to]
	if !ok {
		return false, fmt.Errorf("no transition leads to %s", to)
	}
	u := client.Execution.Update().
		Where(execution.ID(id), execution.StatusIn(from...)).
		SetStatus(to)
	if set != nil {
		set(u)
	}
	n, err := u.Save(ctx)
	if err != nil {
		return false, fmt.Errorf("setting execution %d to %s: %w", id, to, err)
	}
	return n > 0, nil
}
