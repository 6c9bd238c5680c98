package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/attune-io/attune/internal/metrics"
	"github.com/attune-io/attune/internal/store"
)

// QueueEvents is the River queue rule evaluations run on, apart from
// executions.
const QueueEvents = "events"

// EvaluateArgs is the job that evaluates every enabled rule of some
// events: the events stored in one transaction (several when emissions
// arrived together). It carries only ids; redelivery is harmless because
// enforcements are unique per rule and event.
type EvaluateArgs struct {
	// EventID is the one event of a job stored before jobs held several.
	EventID int `json:"event_id,omitempty"`
	// EventIDs are the events to evaluate.
	EventIDs []int `json:"event_ids,omitempty"`
}

// ids are the events the job evaluates.
func (a EvaluateArgs) ids() []int {
	if a.EventID != 0 {
		return append([]int{a.EventID}, a.EventIDs...)
	}
	return a.EventIDs
}

// Kind names the job kind in River's table.
func (EvaluateArgs) Kind() string { return "evaluate_event" }

// InsertOpts puts evaluations on their own queue.
func (EvaluateArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueEvents} }

// InsertEvaluationTx enqueues the rule evaluation of events in tx, one
// job for all, so the job exists exactly when the event rows commit.
func (q *Queue) InsertEvaluationTx(ctx context.Context, tx *store.Tx, eventIDs ...int) error {
	if err := q.insertTx(ctx, tx, EvaluateArgs{EventIDs: eventIDs}); err != nil {
		return fmt.Errorf("enqueueing evaluation of events %v: %w", eventIDs, err)
	}
	q.wakeAfter(tx, QueueEvents)
	return nil
}

// EvaluatesHere reports that this process works evaluation jobs, so it
// may evaluate the events it stores in the transaction that stores them.
func (q *Queue) EvaluatesHere() bool { return q.working }

// eventFetchCooldown is the least time between two fetches of evaluations.
const eventFetchCooldown = time.Millisecond

// addEventWorkers registers the evaluation worker and its queue.
func addEventWorkers(workers *river.Workers, rc *river.Config, cfg Config, h *Handlers) {
	n := cfg.EventConcurrency
	if n <= 0 {
		n = cfg.Concurrency
	}
	river.AddWorker(workers, &evaluateWorker{h: h, m: cfg.Metrics})
	river.AddWorker(workers, &triggersWorker{h: h})
	// Evaluations take a millisecond or two, so the client's cooldown would
	// cap them at MaxWorkers per cooldown (1,000/s at 10 workers).
	rc.Queues[QueueEvents] = river.QueueConfig{MaxWorkers: n, FetchCooldown: eventFetchCooldown}
}

type evaluateWorker struct {
	river.WorkerDefaults[EvaluateArgs]
	h *Handlers
	m *metrics.Metrics
}

func (w *evaluateWorker) Work(ctx context.Context, job *river.Job[EvaluateArgs]) error {
	w.m.QueueWait(job.Queue, time.Since(job.ScheduledAt))
	if w.h.Evaluate == nil {
		return fmt.Errorf("no rule evaluation handler on this node")
	}
	return w.h.Evaluate(ctx, job.Args.ids())
}
