package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

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
	if _, err := q.client.InsertTx(ctx, tx.SQL, EvaluateArgs{EventIDs: eventIDs}, nil); err != nil {
		return fmt.Errorf("enqueueing evaluation of events %v: %w", eventIDs, err)
	}
	q.wakeAfter(tx, QueueEvents)
	return nil
}

// fallbackDelay is when the job of an event its own node evaluates falls
// due: long enough that it never races the node's evaluation, short enough
// that a node dying mid-evaluation delays the event by seconds (plus up to
// River's scheduler interval), not until the rescue of running jobs.
const fallbackDelay = 10 * time.Second

// EvaluatesHere reports that this process works evaluation jobs.
func (q *Queue) EvaluatesHere() bool { return q.working }

// InsertFallbackEvaluationTx inserts, in tx, one evaluation job per event,
// due after fallbackDelay: the caller evaluates each event itself after tx
// commits and then drops its job. It returns the jobs' ids in eventIDs'
// order.
func (q *Queue) InsertFallbackEvaluationTx(ctx context.Context, tx *store.Tx, eventIDs ...int) ([]int64, error) {
	due := time.Now().Add(fallbackDelay)
	params := make([]river.InsertManyParams, len(eventIDs))
	for i, id := range eventIDs {
		params[i] = river.InsertManyParams{Args: EvaluateArgs{EventIDs: []int{id}}, InsertOpts: &river.InsertOpts{ScheduledAt: due}}
	}
	res, err := q.client.InsertManyTx(ctx, tx.SQL, params)
	if err != nil {
		return nil, fmt.Errorf("enqueueing evaluation of events %v: %w", eventIDs, err)
	}
	byEvent := make(map[int]int64, len(res))
	for _, r := range res {
		var a EvaluateArgs
		if err := json.Unmarshal(r.Job.EncodedArgs, &a); err != nil || len(a.EventIDs) != 1 {
			return nil, fmt.Errorf("enqueueing evaluation of events %v: unexpected job args %s", eventIDs, r.Job.EncodedArgs)
		}
		byEvent[a.EventIDs[0]] = r.Job.ID
	}
	ids := make([]int64, len(eventIDs))
	for i, id := range eventIDs {
		ids[i] = byEvent[id]
	}
	return ids, nil
}

// DropEvaluation deletes the fallback job of an evaluation that is done.
// A job already running (the evaluation took longer than fallbackDelay) is
// left to finish: it finds the enforcements made.
func (q *Queue) DropEvaluation(ctx context.Context, jobID int64) error {
	if _, err := q.client.JobDelete(ctx, jobID); err != nil && !errors.Is(err, rivertype.ErrJobRunning) {
		return fmt.Errorf("dropping evaluation job %d: %w", jobID, err)
	}
	return nil
}

// Retry makes a job available now, whatever it waits for (a retry's
// backoff, a fallback's delay).
func (q *Queue) Retry(ctx context.Context, jobID int64) error {
	if _, err := q.client.JobRetry(ctx, jobID); err != nil {
		return fmt.Errorf("retrying job %d: %w", jobID, err)
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
	return w.h.Evaluate(ctx, job.Args.ids())
}
