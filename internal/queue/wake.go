package queue

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivershared/baseservice"
	"github.com/riverqueue/river/rivershared/riverpilot"
)

// safetyFetch is how often an idle SQLite queue still asks the database for
// jobs nobody announced: retries and snoozes River's scheduler made
// available, and jobs another process inserted into the same file.
const safetyFetch = time.Second

// wakeGate starts jobs on SQLite the moment the transaction that inserted
// them commits. River's SQLite driver has no LISTEN: its listener polls a
// notification table every 50 ms (not configurable), once per hop, which
// made a webhook's execution start 75–85 ms after the request. Polling the
// jobs table faster costs a write transaction per poll on SQLite.
//
// Instead River runs without a listener and fetches through this pilot,
// which holds each fetch until a local commit announces jobs in that queue
// (wake, called after commit) or safetyFetch has passed since the last real
// fetch; a held fetch touches no database. River fetches in its own
// goroutine and keeps handling finished jobs meanwhile, so holding costs
// nothing but the fetch's own slot count (see defaultHold).
type wakeGate struct {
	riverpilot.StandardPilot

	// hold is the longest a fetch waits before it returns empty (see
	// defaultHold).
	hold time.Duration

	mu      sync.Mutex
	queues  map[string]*gateQueue
	stopped chan struct{} // closed while River stops; guarded by mu
}

type gateQueue struct {
	dirty     bool
	ch        chan struct{} // closed and replaced on wake
	lastFetch time.Time
}

func newWakeGate() *wakeGate {
	return &wakeGate{hold: defaultHold, queues: map[string]*gateQueue{}, stopped: make(chan struct{})}
}

// queue returns the state of queue name; g.mu must be held.
func (g *wakeGate) queue(name string) *gateQueue {
	q := g.queues[name]
	if q == nil {
		q = &gateQueue{ch: make(chan struct{})}
		g.queues[name] = q
	}
	return q
}

// wake announces committed jobs in queue name.
func (g *wakeGate) wake(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	q := g.queue(name)
	if !q.dirty {
		q.dirty = true
		close(q.ch)
		q.ch = make(chan struct{})
	}
}

// close releases held fetches: River is stopping.
func (g *wakeGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.stopped:
	default:
		close(g.stopped)
	}
}

// open holds fetches again: River is starting (again).
func (g *wakeGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.stopped:
		g.stopped = make(chan struct{})
	default:
	}
}

// defaultHold is the longest a fetch waits before it returns empty, so
// River re-counts its free slots (a fetch's limit is fixed when it starts).
// Between two held fetches River waits its poll interval (1 ms plus up to
// 10 ms of jitter); a wake in that gap waits for the next fetch.
const defaultHold = 500 * time.Millisecond

// JobGetAvailable fetches when jobs were announced or the safety interval
// passed, and otherwise waits for either, at most hold.
func (g *wakeGate) JobGetAvailable(ctx context.Context, exec riverdriver.Executor, state riverpilot.ProducerState, params *riverdriver.JobGetAvailableParams) (*riverdriver.JobGetAvailableResult, error) {
	if params.MaxToLock <= 0 {
		return &riverdriver.JobGetAvailableResult{}, nil
	}
	timer := time.NewTimer(g.hold)
	defer timer.Stop()
	for {
		g.mu.Lock()
		q := g.queue(params.Queue)
		due := q.dirty || time.Since(q.lastFetch) >= safetyFetch
		if due {
			// Cleared before the fetch: a commit after this point wakes
			// the next one, so nothing announced is ever skipped.
			q.dirty = false
			q.lastFetch = time.Now()
		}
		ch, stopped := q.ch, g.stopped
		g.mu.Unlock()
		if due {
			res, err := g.StandardPilot.JobGetAvailable(ctx, exec, state, params)
			if err == nil && len(res.Jobs) >= params.MaxToLock {
				g.wake(params.Queue) // a full fetch may have left jobs behind
			}
			return res, err
		}
		select {
		case <-ch:
		case <-timer.C:
			return &riverdriver.JobGetAvailableResult{}, nil
		case <-stopped:
			return &riverdriver.JobGetAvailableResult{}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// sqliteDriver is River's SQLite driver without its polling listener,
// fetching through a wakeGate (River's plugin hook for a custom pilot).
type sqliteDriver struct {
	*riversqlite.Driver
	gate *wakeGate
}

func newSQLiteDriver(db *sql.DB, gate *wakeGate) *sqliteDriver {
	return &sqliteDriver{Driver: riversqlite.New(db), gate: gate}
}

// SupportsListener is false: no notification-table polling; jobs this
// process inserts wake the gate instead.
func (d *sqliteDriver) SupportsListener() bool { return false }

// SupportsListenNotify is false: inserts write no notification rows.
func (d *sqliteDriver) SupportsListenNotify() bool { return false }

// PluginInit is part of River's plugin hook; nothing to set up.
func (d *sqliteDriver) PluginInit(*baseservice.Archetype) {}

// PluginPilot hands River the gate.
func (d *sqliteDriver) PluginPilot() riverpilot.Pilot { return d.gate }
