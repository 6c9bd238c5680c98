package execution

import (
	"context"
	"log/slog"
	"sync"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/store"
)

// finisher records the outcomes of runs, many in one transaction (group
// commit). Each outcome is still a compare-and-set of its own row, and its
// status is announced inside the transaction that records it, so a final
// status is never committed unannounced (see hinter for why that matters).
// Whichever worker finds no transaction under way commits everything
// pending, its own outcome included; the others wait for that commit. No
// timer: at low load every outcome commits alone, at once.
type finisher struct {
	db  *store.DB
	bus *notify.Bus
	log *slog.Logger

	mu      sync.Mutex
	pending []*outcomeRecord
	busy    bool
}

// outcomeRecord is one run's final status waiting to be written.
type outcomeRecord struct {
	id     int
	worker string
	to     execution.Status
	set    func(*ent.ExecutionUpdate)

	wake chan struct{} // closed when ok/err are set, or lead is
	lead bool          // this waiter commits the next batch
	ok   bool
	err  error
}

// record moves execution r.id to r.to if r.worker still owns it and its
// status allows it, and reports whether it did.
func (f *finisher) record(ctx context.Context, r *outcomeRecord) (bool, error) {
	r.wake = make(chan struct{})
	f.mu.Lock()
	f.pending = append(f.pending, r)
	lead := !f.busy
	f.busy = true
	f.mu.Unlock()
	if !lead {
		<-r.wake
		if !r.lead {
			return r.ok, r.err
		}
	}
	f.mu.Lock()
	batch := f.pending
	f.pending = nil
	f.mu.Unlock()
	f.commit(ctx, batch)
	f.mu.Lock()
	if len(f.pending) > 0 {
		next := f.pending[0]
		next.lead = true
		close(next.wake)
	} else {
		f.busy = false
	}
	f.mu.Unlock()
	return r.ok, r.err
}

// commit writes batch in one transaction, or each alone if that fails (so
// one bad row cannot fail the others), and wakes every waiter in it.
func (f *finisher) commit(ctx context.Context, batch []*outcomeRecord) {
	err := f.write(ctx, batch)
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			r.err = f.write(ctx, []*outcomeRecord{r})
		}
	} else {
		for _, r := range batch {
			r.err = err
		}
	}
	for _, r := range batch {
		if r.err != nil {
			r.ok = false
		}
		if !r.lead {
			close(r.wake)
		}
	}
}

func (f *finisher) write(ctx context.Context, batch []*outcomeRecord) error {
	return f.db.InTx(ctx, func(tx *store.Tx) error {
		for _, r := range batch {
			ok, err := transition(ctx, tx, f.bus, r.id, r.to, func(u *ent.ExecutionUpdate) {
				u.Where(execution.Worker(r.worker))
				r.set(u)
			})
			if err != nil {
				return err
			}
			r.ok = ok
		}
		return nil
	})
}
