// Package notify tells every node that something changed: an execution's
// status, new output lines, a cancel request. On PostgreSQL events travel by
// LISTEN/NOTIFY, so a change made on a worker reaches subscribers connected
// to any API node; on SQLite (one process) they fan out in memory.
//
// Events are hints, not data: they carry ids and offsets, and subscribers
// read the rows. A subscription coalesces pending events instead of
// buffering without bound, so a slow subscriber never blocks a publisher and
// never loses the fact that something changed.
package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5"

	"github.com/attune-io/attune/internal/batch"
	"github.com/attune-io/attune/internal/store"
)

// Event kinds.
const (
	// Status means the execution's row changed (status, result...).
	Status = "status"
	// Output means output lines up to Seq were stored.
	Output = "output"
	// Cancel asks the node running the execution to stop it.
	Cancel = "cancel"
	// Resync means events may have been missed (the listener reconnected):
	// subscribers should re-read everything they watch. Every subscription
	// receives it.
	Resync = "resync"
)

// Event is one change, small enough for a NOTIFY payload.
type Event struct {
	Kind string `json:"k"`
	// ID is the execution id.
	ID int `json:"id"`
	// Seq is, for Output, the last stored line number.
	Seq int `json:"s,omitempty"`
}

// Bus publishes events to every node and fans them out to local subscribers.
type Bus struct {
	log     *slog.Logger
	db      *store.DB
	channel string // PostgreSQL only

	mu   sync.Mutex
	subs map[*Subscription]struct{}

	// announced sends events announced after their transactions
	// committed, in batches (see PublishAfterCommit).
	announced batch.Sender[Event]

	stop context.CancelFunc
	done chan struct{}
}

// New returns a Bus over db. On PostgreSQL it listens on a channel named
// after the current schema (so schemas sharing a server never hear each
// other), using a dedicated connection to databaseURL, and returns once it
// listens.
func New(ctx context.Context, db *store.DB, databaseURL string, log *slog.Logger) (*Bus, error) {
	b := &Bus{log: log, db: db, subs: map[*Subscription]struct{}{}, done: make(chan struct{})}
	b.announced.Send = b.announce
	if db.Dialect != dialect.Postgres {
		close(b.done)
		b.stop = func() {}
		return b, nil
	}
	if err := db.SQL.QueryRowContext(ctx, "SELECT "+ChannelSQL).Scan(&b.channel); err != nil {
		return nil, fmt.Errorf("notify: reading schema: %w", err)
	}
	conn, err := b.listen(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	b.stop = stop
	go b.loop(lctx, conn, databaseURL)
	return b, nil
}

// Close stops listening. Subscriptions stay valid but receive nothing more.
func (b *Bus) Close() {
	b.stop()
	<-b.done
}

// Publish sends ev to every node, this one included.
func (b *Bus) Publish(ctx context.Context, ev Event) error {
	if b.channel == "" {
		b.fanout(ev)
		return nil
	}
	return b.notify(ctx, b.db.SQL, ev)
}

// PublishTx sends ev when tx commits. On SQLite it fans out at once:
// subscribers read through the same single connection, so they see the
// rows only after tx ends.
func (b *Bus) PublishTx(ctx context.Context, tx *sql.Tx, ev Event) error {
	if b.channel == "" {
		b.fanout(ev)
		return nil
	}
	return b.notify(ctx, tx, ev)
}

// PublishInTx is PublishTx for a store transaction: on PostgreSQL the
// NOTIFY is part of tx (delivered if and when it commits); in memory
// (SQLite) ev is announced once tx committed, so that a subscriber that
// re-reads the row on it sees the change.
func (b *Bus) PublishInTx(ctx context.Context, tx *store.Tx, ev Event) error {
	if b.channel == "" {
		tx.AfterCommit(func() { b.fanout(ev) })
		return nil
	}
	return b.notify(ctx, tx.SQL, ev)
}

// PublishAfterCommit announces ev once tx commits, in one statement with
// whatever else is waiting to be announced. A NOTIFY inside a transaction
// that writes makes PostgreSQL hold a database-wide lock through the
// commit's WAL flush, so every such commit waits for the others; a NOTIFY
// alone flushes nothing. The price: if the process dies between the
// commit and the announcement, live subscribers miss this one (the row is
// stored). Use it for announcements of new rows (events, enforcements);
// changes a subscriber must never miss (final statuses, cancel requests)
// use PublishTx.
func (b *Bus) PublishAfterCommit(tx *store.Tx, ev Event) {
	tx.AfterCommit(func() { b.Announce(ev) })
}

// ChannelSQL is, in SQL, the channel buses of the current schema listen on,
// for statements that change rows and announce them in one round trip
// (payloads: an Event in JSON).
const ChannelSQL = `'attune_' || coalesce(current_schema(), '')`

// Announce sends ev to every node soon, without waiting, batched with
// other announcements: for changes that already committed and whose loss
// in a crash costs subscribers only a hint (see PublishAfterCommit).
func (b *Bus) Announce(ev Event) {
	if b.channel == "" {
		b.fanout(ev)
		return
	}
	b.announced.Add(ev)
}

// announceTimeout bounds one batch of announcements.
const announceTimeout = 10 * time.Second

// announce sends one batch of announcements in one statement.
func (b *Bus) announce(evs []Event) {
	payloads := make([]string, len(evs))
	for i, ev := range evs {
		p, _ := json.Marshal(ev) // an Event always marshals
		payloads[i] = string(p)
	}
	list, _ := json.Marshal(payloads)
	ctx, cancel := context.WithTimeout(context.Background(), announceTimeout)
	defer cancel()
	if _, err := b.db.SQL.ExecContext(ctx, "SELECT pg_notify($1, p) FROM json_array_elements_text($2::json) AS p", b.channel, string(list)); err != nil {
		b.log.Warn("notify: announcing committed changes", "events", len(evs), "error", err)
	}
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (b *Bus) notify(ctx context.Context, db execer, ev Event) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if _, err := db.ExecContext(ctx, "SELECT pg_notify($1, $2)", b.channel, string(payload)); err != nil {
		return fmt.Errorf("notify: publishing: %w", err)
	}
	return nil
}

func (b *Bus) listen(ctx context.Context, databaseURL string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("notify: connecting listener: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{b.channel}.Sanitize()); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("notify: listening: %w", err)
	}
	return conn, nil
}

// loop delivers notifications until ctx ends, reconnecting when the
// connection drops; after a reconnect every subscriber gets Resync.
func (b *Bus) loop(ctx context.Context, conn *pgx.Conn, databaseURL string) {
	defer close(b.done)
	backoff := 100 * time.Millisecond
	for {
		for conn != nil {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				conn.Close(context.WithoutCancel(ctx))
				conn = nil
				break
			}
			var ev Event
			if err := json.Unmarshal([]byte(n.Payload), &ev); err != nil {
				b.log.Warn("notify: ignoring malformed payload", "payload", strings.ToValidUTF8(n.Payload, "?"))
				continue
			}
			b.fanout(ev)
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		c, err := b.listen(ctx, databaseURL)
		if err != nil {
			b.log.Warn("notify: listener reconnect failed", "error", err)
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		conn, backoff = c, 100*time.Millisecond
		b.fanout(Event{Kind: Resync})
	}
}

// Subscribe returns a subscription receiving the events match accepts (nil
// accepts all) and every Resync. Close it when done.
func (b *Bus) Subscribe(match func(Event) bool) *Subscription {
	s := &Subscription{bus: b, match: match, ready: make(chan struct{}, 1), pending: map[key]int{}}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

func (b *Bus) fanout(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if ev.Kind == Resync || s.match == nil || s.match(ev) {
			s.add(ev)
		}
	}
}

// Subscription collects events between reads. Wait on Ready, then call Take.
type Subscription struct {
	bus   *Bus
	match func(Event) bool
	ready chan struct{}

	mu      sync.Mutex
	pending map[key]int // the highest Seq per kind and id
}

type key struct {
	kind string
	id   int
}

// Ready receives a value whenever events are pending.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take returns the pending events, one per kind and id with the highest
// Seq, and clears them.
func (s *Subscription) Take() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, 0, len(s.pending))
	for k, seq := range s.pending {
		out = append(out, Event{Kind: k.kind, ID: k.id, Seq: seq})
	}
	clear(s.pending)
	return out
}

// Close stops delivery to s.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
}

func (s *Subscription) add(ev Event) {
	k := key{ev.Kind, ev.ID}
	s.mu.Lock()
	if seq, ok := s.pending[k]; !ok || ev.Seq > seq {
		s.pending[k] = ev.Seq
	}
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}
