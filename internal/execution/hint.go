package execution

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"

	"entgo.io/ent/dialect"
	"github.com/lib/pq"

	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/store"
)

// hinter announces status changes that already committed, many in one
// transaction. On PostgreSQL a commit that NOTIFYs holds a database-wide
// lock until its WAL flush, so one NOTIFY inside every request and claim
// serialised them all. Only changes whose loss a crash may cause safely go
// this way: a new execution (SCHEDULED) and a claim (RUNNING). Either is
// followed by a final status (the run ends, or the execution is abandoned),
// which is announced inside its own transaction, and subscribers re-read
// the row on any hint, so a lost hint only coalesces with a later one.
type hinter struct {
	db  *store.DB
	bus *notify.Bus
	log *slog.Logger

	mu       sync.Mutex
	pending  []int
	flushing bool
}

// add announces a committed change of execution id, soon and without
// waiting: one goroutine at a time sends everything pending.
func (h *hinter) add(ctx context.Context, id int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending = append(h.pending, id)
	if !h.flushing {
		h.flushing = true
		go h.flush(context.WithoutCancel(ctx))
	}
}

// flush sends pending hints, batch after batch, until none are left.
func (h *hinter) flush(ctx context.Context) {
	for {
		h.mu.Lock()
		ids := h.pending
		h.pending = nil
		if len(ids) == 0 {
			h.flushing = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		slices.Sort(ids)
		if err := h.send(ctx, slices.Compact(ids)); err != nil {
			h.log.Warn("announcing execution changes", "executions", len(ids), "error", err)
		}
	}
}

func (h *hinter) send(ctx context.Context, ids []int) error {
	if h.db.Dialect != dialect.Postgres {
		for _, id := range ids {
			if err := h.bus.Publish(ctx, notify.Event{Kind: notify.Status, ID: id}); err != nil {
				return err
			}
		}
		return nil
	}
	payloads := make([]string, len(ids))
	for i, id := range ids {
		b, err := json.Marshal(notify.Event{Kind: notify.Status, ID: id})
		if err != nil {
			return err
		}
		payloads[i] = string(b)
	}
	_, err := h.db.SQL.ExecContext(ctx, `SELECT pg_notify(`+busChannelSQL+`, p) FROM unnest($1::text[]) AS p`, pq.Array(payloads))
	return err
}

// busChannelSQL is, in SQL, the channel notify.Bus listens on (named after
// the schema), for statements that change rows and announce them in one
// round trip; the payloads are notify.Event in JSON, as Bus sends them.
const busChannelSQL = `'attune_' || coalesce(current_schema(), '')`
