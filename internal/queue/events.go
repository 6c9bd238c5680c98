package queue

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// QueueEvents is the River queue rule evaluations run on, apart from
// executions.
const QueueEvents = "events"

// EvaluateArgs is the job that evaluates every enabled rule of one event.
// It carries only the id; redelivery is harmless because enforcements are
// unique per rule and event.
type EvaluateArgs struct {
	EventID int `json:"event_id"`
}

// Kind names the job kind in River's table.
func (EvaluateArgs) Kind() string { return "evaluate_event" }

// InsertOpts puts evaluations on their own queue.
func (EvaluateArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: QueueEvents} }

// InsertEvaluationTx enqueues the rule evaluation of an event in tx, so the
// job exists exactly when the event row commits.
func (q *Queue) InsertEvaluationTx(ctx context.Context, tx *sql.Tx, eventID int) error {
	if _, err := q.client.InsertTx(ctx, tx, EvaluateArgs{EventID: eventID}, nil); err != nil {
		return fmt.Errorf("enqueueing evaluation of event %d: %w", eventID, err)
	}
	return nil
}

// eventFetchCooldown is the least time between two fetches of evaluations.
const eventFetchCooldown = time.Millisecond

// addEventWorkers registers the evaluation worker and its queue.
func addEventWorkers(workers *river.Workers, rc *river.Config, cfg Config, h *Handlers) {
	n := cfg.EventConcurrency
	if n <= 0 {
		n = cfg.Concurrency
	}
	river.AddWorker(workers, &evaluateWorker{h: h})
	// Evaluations take a millisecond or two, so the client's cooldown would
	// cap them at MaxWorkers per cooldown (1,000/s at 10 workers).
	rc.Queues[QueueEvents] = river.QueueConfig{MaxWorkers: n, FetchCooldown: eventFetchCooldown}
}

type evaluateWorker struct {
	river.WorkerDefaults[EvaluateArgs]
	h *Handlers
}

func (w *evaluateWorker) Work(ctx context.Context, job *river.Job[EvaluateArgs]) error {
	if w.h.Evaluate == nil {
		return fmt.Errorf("no rule evaluation handler on this node")
	}
	return w.h.Evaluate(ctx, job.Args.EventID)
}
