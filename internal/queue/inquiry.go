package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/attune-io/attune/internal/store"
)

// InquiryTimeoutArgs is the job that times an inquiry out: inserted, for
// its timeout, in the transaction that stores the inquiry, so no node has
// to poll for expired ones and none is forgotten. It runs on the workflows
// queue; an inquiry answered or canceled first makes it a no-op.
type InquiryTimeoutArgs struct {
	InquiryID int `json:"inquiry_id"`
}

// Kind names the job kind in River's table.
func (InquiryTimeoutArgs) Kind() string { return "inquiry_timeout" }

// InsertOpts puts the job on the workflows queue.
func (InquiryTimeoutArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWorkflows}
}

// InsertInquiryTimeoutTx schedules, in tx, the timeout of inquiry id at at.
func (q *Queue) InsertInquiryTimeoutTx(ctx context.Context, tx *store.Tx, id int, at time.Time) error {
	params := river.InsertManyParams{Args: InquiryTimeoutArgs{InquiryID: id},
		InsertOpts: &river.InsertOpts{Queue: QueueWorkflows, ScheduledAt: at}}
	n, err := q.client.InsertManyFastTx(ctx, tx.SQL, []river.InsertManyParams{params})
	if err == nil && n != 1 {
		err = fmt.Errorf("%d jobs inserted, want 1", n)
	}
	if err != nil {
		return fmt.Errorf("scheduling the timeout of inquiry %d: %w", id, err)
	}
	return nil
}

type inquiryTimeoutWorker struct {
	river.WorkerDefaults[InquiryTimeoutArgs]
	h *Handlers
}

func (w *inquiryTimeoutWorker) Work(ctx context.Context, job *river.Job[InquiryTimeoutArgs]) error {
	if w.h.InquiryTimeout == nil {
		return fmt.Errorf("no inquiry handler on this node")
	}
	return w.h.InquiryTimeout(ctx, job.Args.InquiryID)
}
