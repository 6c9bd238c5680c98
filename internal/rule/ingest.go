package rule

import (
	"context"
	"fmt"
	"sync"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/store"
)

// maxIngestBatch bounds the events stored in one transaction.
const maxIngestBatch = 256

// ingest stores concurrent emissions together: one transaction, one
// multi-row insert and one evaluation job per batch (a group commit). A
// batch is whatever arrived while the previous one was being stored, so an
// emission alone is stored at once, and a burst costs a commit, not one per
// event. One goroutine at a time stores batches, for as long as any wait.
type ingest struct {
	e *Engine

	mu      sync.Mutex
	pending []*emission
	storing bool
}

// emission is one Emit waiting in a batch.
type emission struct {
	em   Emission
	tr   *ent.Trigger
	done chan stored
}

// stored is what became of an emission: its event, bound to the batch's
// transaction until it committed and to the database after (see store.Tx).
type stored struct {
	ev  *ent.Event
	err error
}

// add queues em (its trigger already checked) and returns once its batch
// committed or failed.
func (in *ingest) add(em Emission, tr *ent.Trigger) stored {
	p := &emission{em: em, tr: tr, done: make(chan stored, 1)}
	in.mu.Lock()
	in.pending = append(in.pending, p)
	if !in.storing {
		in.storing = true
		// Not the caller's context, nor its values: the batch holds
		// others' events, and their evaluation is the server's own work,
		// as on a queue worker (a pack-limited caller's principal would
		// hide other packs' rules on the trigger, and those would be
		// remembered as the trigger's rules).
		go in.run(context.Background())
	}
	in.mu.Unlock()
	return <-p.done
}

// run stores batches until none wait.
func (in *ingest) run(ctx context.Context) {
	for {
		in.mu.Lock()
		n := min(len(in.pending), maxIngestBatch)
		batch := in.pending[:n:n]
		in.pending = in.pending[n:]
		if n == 0 {
			in.storing = false
			in.pending = nil
			in.mu.Unlock()
			return
		}
		in.mu.Unlock()
		in.store(ctx, batch, false, in.e.queue.EvaluatesHere())
	}
}

// store stores one batch, evaluating its events in the same transaction
// when evaluate is set. If that transaction fails, the batch is stored
// again with an evaluation job instead, so an evaluation's trouble costs
// no event. If a batch of several fails without evaluation (one trigger
// deleted since it was checked, say), each is stored again alone, its
// trigger checked anew, so one emission's trouble is only its own and gets
// its own error (NOT_FOUND for that trigger).
func (in *ingest) store(ctx context.Context, batch []*emission, recheck, evaluate bool) {
	res, err := in.storeTx(ctx, batch, recheck, evaluate)
	if err != nil && evaluate {
		in.e.opts.Logger.Warn("storing and evaluating events in one transaction failed; storing them for the queue to evaluate",
			"events", len(batch), "error", err)
		in.store(ctx, batch, recheck, false)
		return
	}
	if err != nil && len(batch) > 1 {
		for _, p := range batch {
			in.store(ctx, []*emission{p}, true, false)
		}
		return
	}
	for i, p := range batch {
		if err != nil {
			p.done <- stored{err: err}
		} else {
			p.done <- res[i]
		}
	}
}

// storeTx inserts the batch's events and their announcements in one
// transaction with either their evaluation (evaluate) or one evaluation
// job for all.
func (in *ingest) storeTx(ctx context.Context, batch []*emission, recheck, evaluate bool) ([]stored, error) {
	e := in.e
	var evs []*ent.Event
	err := e.db.InTx(ctx, func(tx *store.Tx) error {
		creates := make([]*ent.EventCreate, len(batch))
		for i, p := range batch {
			if recheck {
				tr, err := e.checkEmission(ctx, tx.Ent, p.em)
				if err != nil {
					return err
				}
				p.tr = tr
			}
			creates[i] = eventCreate(tx.Ent, p.em, p.tr)
		}
		var err error
		evs, err = tx.Ent.Event.CreateBulk(creates...).Save(ctx)
		if err != nil {
			return fmt.Errorf("storing %d events: %w", len(batch), err)
		}
		ids := make([]int, len(evs))
		for i, ev := range evs {
			ids[i] = ev.ID
			e.bus.PublishAfterCommit(tx, notify.Event{Kind: notify.EventCreated, ID: ev.ID})
			e.stored(tx, ev.TriggerRef)
		}
		if evaluate {
			return e.evaluateTx(ctx, tx, evs)
		}
		return e.queue.InsertEvaluationTx(ctx, tx, ids...)
	})
	if err != nil {
		return nil, err
	}
	out := make([]stored, len(batch))
	for i, ev := range evs {
		out[i].ev = ev
	}
	return out, nil
}
