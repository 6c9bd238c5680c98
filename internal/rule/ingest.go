package rule

import (
	"context"
	"fmt"
	"sync"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/event"
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

// stored is what became of an emission: its event (bound to the engine's
// client, not the batch's transaction) and, when this node evaluates it,
// the id of its fallback job.
type stored struct {
	ev    *ent.Event
	jobID int64
	err   error
}

// add queues em (its trigger already checked) and returns once its batch
// committed or failed.
func (in *ingest) add(em Emission, tr *ent.Trigger) stored {
	p := &emission{em: em, tr: tr, done: make(chan stored, 1)}
	in.mu.Lock()
	in.pending = append(in.pending, p)
	if !in.storing {
		in.storing = true
		// Not the caller's context, nor its values (a principal would
		// scope the read-back): the batch holds others' events.
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
		in.store(ctx, batch, false)
	}
}

// store stores one batch. If its transaction fails with several events
// (one trigger deleted since it was checked, say), each is stored again
// alone, its trigger checked anew, so one emission's trouble is only its
// own and gets its own error (NOT_FOUND for that trigger).
func (in *ingest) store(ctx context.Context, batch []*emission, recheck bool) {
	res, err := in.storeTx(ctx, batch, recheck)
	if err != nil && len(batch) > 1 {
		for _, p := range batch {
			in.store(ctx, []*emission{p}, true)
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

// storeTx inserts the batch's events, their evaluation job (or, on a node
// that evaluates its own events, one fallback job each) and their
// announcements in one transaction.
func (in *ingest) storeTx(ctx context.Context, batch []*emission, recheck bool) ([]stored, error) {
	e := in.e
	inline := e.queue.EvaluatesHere()
	ids := make([]int, len(batch))
	var jobs []int64
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
		evs, err := tx.Ent.Event.CreateBulk(creates...).Save(ctx)
		if err != nil {
			return fmt.Errorf("storing %d events: %w", len(batch), err)
		}
		for i, ev := range evs {
			ids[i] = ev.ID
			e.bus.PublishAfterCommit(tx, notify.Event{Kind: notify.EventCreated, ID: ev.ID})
		}
		if inline {
			jobs, err = e.queue.InsertFallbackEvaluationTx(ctx, tx, ids...)
			return err
		}
		return e.queue.InsertEvaluationTx(ctx, tx, ids...)
	})
	if err != nil {
		return nil, err
	}
	// Read back through the engine's client: the transaction's is gone,
	// and callers (GraphQL) may follow the events' edges.
	evs, err := e.db.Ent.Event.Query().Where(event.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading stored events: %w", err)
	}
	byID := make(map[int]*ent.Event, len(evs))
	for _, ev := range evs {
		byID[ev.ID] = ev
	}
	out := make([]stored, len(batch))
	for i, id := range ids {
		out[i].ev = byID[id]
		if out[i].ev == nil {
			out[i].err = fmt.Errorf("event %d vanished after it was stored", id)
		}
		if inline {
			out[i].jobID = jobs[i]
		}
	}
	return out, nil
}
