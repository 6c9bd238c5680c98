package rule

import (
	"context"

	"github.com/attune-io/attune/ent"
)

// StoreBatchAfter checks ems as Emit does, runs before (if set), then
// stores them as one ingest batch, as if they had arrived together, and
// returns each one's event or error.
func (e *Engine) StoreBatchAfter(ctx context.Context, ems []Emission, before func()) ([]*ent.Event, []error) {
	batch := make([]*emission, len(ems))
	for i, em := range ems {
		tr, err := e.checkEmission(ctx, e.db.Ent, em)
		if err != nil {
			panic(err)
		}
		batch[i] = &emission{em: em, tr: tr, done: make(chan stored, 1)}
	}
	if before != nil {
		before()
	}
	e.ingest.store(ctx, batch, false, e.queue.EvaluatesHere())
	evs, errs := make([]*ent.Event, len(ems)), make([]error, len(ems))
	for i, p := range batch {
		st := <-p.done
		evs[i], errs[i] = st.ev, st.err
	}
	return evs, errs
}
