// Package queue is the only place that knows River: it builds the client for
// either database (PostgreSQL with LISTEN/NOTIFY, so a job inserted by an API
// node starts on a worker node at once; SQLite in process), applies River's
// own migrations, registers the job kinds and inserts jobs inside a caller's
// transaction. Jobs carry only ids; the rows they point at are the truth.
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/attune-io/attune/internal/metrics"
	"github.com/attune-io/attune/internal/store"
)

// migrateLockKey serialises River's migrations among nodes starting at once.
const migrateLockKey = 7_346_201_994

// Config sets up a Queue.
type Config struct {
	// DatabaseURL is the postgres:// URL the LISTEN connections use; ignored
	// on SQLite.
	DatabaseURL string
	// Concurrency is how many jobs this process works at once; zero makes an
	// insert-only client (an API node without the worker role).
	Concurrency int
	// RescueAfter is how long a job may stay running before River hands it to
	// another worker. The execution handler never reruns such a job, it
	// records the execution as abandoned; keep it above the longest timeout.
	RescueAfter time.Duration
	// EventConcurrency is how many rule evaluations this process works at
	// once, on their own queue so long actions never delay them; zero means
	// Concurrency.
	EventConcurrency int
	// Logger receives River's logs.
	Logger *slog.Logger
	// Metrics, when set, observes how long each job waited for a worker.
	Metrics *metrics.Metrics
}

// Handlers are the functions jobs run, read when a job runs (so they may be
// set after New, once the services that need the Queue exist). Returning an error retries the job
// later, Cancel(err) ends it without retry and Snooze(d) tries again after d
// without counting an attempt.
type Handlers struct {
	// Execution runs the execution with the given id.
	Execution func(ctx context.Context, executionID int) error
	// Evaluate evaluates the rules of the events with the given ids.
	Evaluate func(ctx context.Context, eventIDs []int) error
	// Workflow advances the workflow of the execution with the given id.
	Workflow func(ctx context.Context, executionID int) error
	// Triggers emits the execution triggers of the ended executions with
	// the given ids.
	Triggers func(ctx context.Context, executionIDs []int) error
	// InquiryTimeout times out the inquiry with the given id if it is
	// still pending.
	InquiryTimeout func(ctx context.Context, inquiryID int) error
}

// Queue inserts and (with Concurrency > 0) works jobs.
type Queue struct {
	client  *river.Client[*sql.Tx]
	db      *store.DB
	pool    *pgxpool.Pool
	dialect string
	working bool
	// gate, on SQLite, starts jobs when the transaction that inserted them
	// commits (see wakeGate); nil on PostgreSQL.
	gate *wakeGate
	// pgWake, on PostgreSQL, tells every node's River about new jobs after
	// their transaction commits (see pgWaker).
	pgWake *pgWaker
}

// New builds the River client over db. Handlers may be nil for an
// insert-only queue. Call Migrate once before.
func New(ctx context.Context, db *store.DB, cfg Config, h *Handlers) (*Queue, error) {
	q := &Queue{db: db, dialect: db.Dialect}
	var drv riverdriver.Driver[*sql.Tx]
	if db.Dialect == dialect.Postgres {
		pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("opening listener pool: %w", err)
		}
		q.pool = pool
		drv = &pgDriver{Driver: riverdatabasesql.NewWithPgxListener(db.SQL, pool)}
	} else if cfg.Concurrency > 0 && h != nil {
		q.gate = newWakeGate()
		drv = newSQLiteDriver(db.SQL, q.gate)
	} else {
		drv = riversqlite.New(db.SQL)
	}
	rc := &river.Config{
		Logger: quietLogger(cfg.Logger),
		// Actions have their own timeouts; River must never cancel a run.
		JobTimeout:           -1,
		RescueStuckJobsAfter: cfg.RescueAfter,
		// A job announced within the cooldown of the last fetch waits for
		// it to pass, so under load the cooldown adds up to its length to
		// a job's start (River's default is 100 ms). A fetch is one short
		// statement.
		FetchCooldown: 2 * time.Millisecond,
		MaxAttempts:   10,
	}
	if cfg.Concurrency > 0 && h != nil {
		workers := river.NewWorkers()
		river.AddWorker(workers, &executionWorker{h: h, m: cfg.Metrics})
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Concurrency}}
		addEventWorkers(workers, rc, cfg, h)
		addWorkflowWorkers(workers, rc, cfg, h)
		q.working = true
		if q.gate != nil {
			// A held fetch waits in the gate, so River may ask again at
			// once; an idle queue still touches the database only every
			// safetyFetch.
			for name, qc := range rc.Queues {
				qc.FetchPollInterval = time.Millisecond
				qc.FetchCooldown = time.Millisecond
				rc.Queues[name] = qc
			}
		}
	}
	client, err := river.NewClient(drv, rc)
	if err != nil {
		q.Close()
		return nil, fmt.Errorf("creating queue client: %w", err)
	}
	q.client = client
	if q.gate != nil && cfg.Logger != nil {
		cfg.Logger.Info("SQLite queue: jobs start as soon as the transaction that queued them commits, "+
			"woken inside this process (no LISTEN needed); idle workers also check the queue periodically",
			"check_every", safetyFetch)
	}
	if db.Dialect == dialect.Postgres {
		q.pgWake = newPGWaker(drv.GetExecutor(), cfg.Logger)
	}
	return q, nil
}

// Migrate applies River's own migrations, one node at a time on PostgreSQL.
func Migrate(ctx context.Context, db *store.DB) error {
	var drv riverdriver.Driver[*sql.Tx] = riversqlite.New(db.SQL)
	if db.Dialect == dialect.Postgres {
		drv = riverdatabasesql.New(db.SQL)
		conn, err := db.SQL.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migrating queue: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
			return fmt.Errorf("migrating queue: taking lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey) //nolint:errcheck // released with the session anyway
	}
	m, err := rivermigrate.New(drv, nil)
	if err != nil {
		return fmt.Errorf("migrating queue: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrating queue: %w", err)
	}
	return nil
}

// Start begins working jobs; a no-op for an insert-only queue. Ending ctx
// cancels running jobs at once (River's hard stop), so a server passes a
// context its shutdown signal does not end and stops with StopGracefully.
func (q *Queue) Start(ctx context.Context) error {
	if !q.working {
		return nil
	}
	if q.gate != nil {
		q.gate.open()
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("starting queue: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for running ones until ctx ends, then
// cancels their contexts and waits for them to return.
func (q *Queue) Stop(ctx context.Context) error { return q.StopGracefully(ctx, nil) }

// StopGracefully stops fetching jobs and waits for running ones until ctx
// ends; then it calls beforeCancel (which may cancel the runs with a cause
// of its own), cancels the jobs' contexts and waits for them to return.
func (q *Queue) StopGracefully(ctx context.Context, beforeCancel func()) error {
	if !q.working {
		return nil
	}
	if q.gate != nil {
		q.gate.close()
	}
	err := q.client.Stop(ctx)
	if ctx.Err() != nil {
		if beforeCancel != nil {
			beforeCancel()
		}
		err = q.client.StopAndCancel(context.WithoutCancel(ctx))
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("stopping queue: %w", err)
	}
	return nil
}

// Close releases the listener connections. Call after Stop.
func (q *Queue) Close() {
	if q.pool != nil {
		q.pool.Close()
	}
}

// InsertExecutionTx enqueues the run of an execution in tx, so the job
// exists exactly when the execution row commits.
func (q *Queue) InsertExecutionTx(ctx context.Context, tx *store.Tx, executionID int) error {
	if err := q.insertTx(ctx, tx, ExecutionArgs{ExecutionID: executionID}); err != nil {
		return fmt.Errorf("enqueueing execution %d: %w", executionID, err)
	}
	q.wakeAfter(tx, river.QueueDefault)
	return nil
}

// InsertExecutionAtTx is InsertExecutionTx for a run that starts no earlier
// than at (a retry after its delay).
func (q *Queue) InsertExecutionAtTx(ctx context.Context, tx *store.Tx, executionID int, at time.Time) error {
	n, err := q.client.InsertManyFastTx(ctx, tx.SQL, []river.InsertManyParams{{
		Args: ExecutionArgs{ExecutionID: executionID}, InsertOpts: &river.InsertOpts{ScheduledAt: at},
	}})
	if err == nil && n != 1 {
		err = fmt.Errorf("%d jobs inserted, want 1", n)
	}
	if err != nil {
		return fmt.Errorf("enqueueing execution %d: %w", executionID, err)
	}
	q.wakeAfter(tx, river.QueueDefault)
	return nil
}

// insertTx inserts one job in tx without reading it back: our jobs are not
// unique and nothing uses the inserted row. River's returning insert reads
// the row back with its JSON columns converted (on SQLite, with a nonce
// written into its metadata to tell inserted rows from duplicates); its
// fast insert does neither: 165 µs instead of 210-260 µs per job and
// commit on SQLite, measured in isolation.
func (q *Queue) insertTx(ctx context.Context, tx *store.Tx, args river.JobArgs) error {
	n, err := q.client.InsertManyFastTx(ctx, tx.SQL, []river.InsertManyParams{{Args: args}})
	if err == nil && n != 1 {
		err = fmt.Errorf("%d jobs inserted, want 1", n)
	}
	return err
}

// wakeAfter starts the queue's workers in this process when tx commits.
func (q *Queue) wakeAfter(tx *store.Tx, queue string) {
	switch {
	case q.gate != nil:
		tx.AfterCommit(func() { q.gate.wake(queue) })
	case q.pgWake != nil:
		tx.AfterCommit(func() { q.pgWake.wake(queue) })
	}
}

// Cancel marks err as final: the job is not retried.
func Cancel(err error) error { return river.JobCancel(err) }

// Snooze asks for the job to be tried again after d, without counting an attempt.
func Snooze(d time.Duration) error { return river.JobSnooze(d) }

// ExecutionArgs is the job that runs one execution. It carries only the id:
// parameters (and secrets) stay in the database.
type ExecutionArgs struct {
	ExecutionID int `json:"execution_id"`
}

// Kind names the job kind in River's table.
func (ExecutionArgs) Kind() string { return "execution" }

type executionWorker struct {
	river.WorkerDefaults[ExecutionArgs]
	h *Handlers
	m *metrics.Metrics
}

func (w *executionWorker) Work(ctx context.Context, job *river.Job[ExecutionArgs]) error {
	w.m.QueueWait(job.Queue, time.Since(job.ScheduledAt))
	return w.h.Execution(ctx, job.Args.ExecutionID)
}

// Queues are the queues jobs go to: executions and rule evaluations.
var Queues = []string{river.QueueDefault, QueueEvents}

// PendingStates are the states of jobs not finished yet, as Depth reports them.
var PendingStates = []string{"available", "scheduled", "retryable", "running", "pending"}

// depthSQL counts the jobs not finished yet by queue and state; River's
// fetch index (state, queue, ...) serves it, whatever the number of
// finished jobs River keeps.
const depthSQL = `SELECT queue, state, count(*) FROM river_job
WHERE state IN ('available', 'scheduled', 'retryable', 'running', 'pending') GROUP BY queue, state`

// Depth counts the jobs not finished yet, by queue and state, over every
// node (it reads River's table).
func (q *Queue) Depth(ctx context.Context) ([]metrics.QueueDepth, error) {
	rows, err := q.db.SQL.QueryContext(ctx, depthSQL)
	if err != nil {
		return nil, fmt.Errorf("reading queue depth: %w", err)
	}
	defer rows.Close()
	var out []metrics.QueueDepth
	for rows.Next() {
		var d metrics.QueueDepth
		if err := rows.Scan(&d.Queue, &d.State, &d.Jobs); err != nil {
			return nil, fmt.Errorf("reading queue depth: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
