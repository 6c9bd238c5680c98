package execution

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/store"
)

// finisher records the outcomes of runs ending together in one transaction
// (group commit): on PostgreSQL in one statement, on SQLite an UPDATE each.
// Each outcome is still a compare-and-set of its own row. On PostgreSQL its
// status is announced inside the transaction that records it, so a final
// status is never committed unannounced (see Service.hint for why that
// matters); on SQLite the bus is in memory and announces after the commit.
// Batches form as in group: no timer, no added latency at low load.
type finisher struct {
	db  *store.DB
	bus *notify.Bus

	batches group[*outcomeRecord]
	// ended wakes a child's workflow in the transaction recording its end.
	ended func(ctx context.Context, tx *store.Tx, parentID *int) error
}

func newFinisher(db *store.DB, bus *notify.Bus) *finisher {
	f := &finisher{db: db, bus: bus}
	f.batches.fn = f.commit
	return f
}

// outcomeRecord is one run's final status waiting to be written.
type outcomeRecord struct {
	id         int
	worker     string // the compare-and-set also requires this owner
	parentID   *int   // the workflow execution it is a task of, if any
	to         execution.Status
	finishedAt time.Time
	errMsg     string
	// ran says the process ran: the columns below are written only then.
	ran                              bool
	stdout, stderr                   string
	stdoutTruncated, stderrTruncated bool
	stdoutDropped, stderrDropped     int64
	exitCode                         int
	result                           []byte

	ok  bool
	err error
}

// apply sets r's columns on an ent update.
func (r *outcomeRecord) apply(u *ent.ExecutionUpdate) {
	u.Where(execution.Worker(r.worker)).SetFinishedAt(r.finishedAt).SetError(r.errMsg)
	if r.ran {
		u.SetStdout(r.stdout).
			SetStderr(r.stderr).
			SetStdoutTruncated(r.stdoutTruncated).
			SetStderrTruncated(r.stderrTruncated).
			SetStdoutDropped(r.stdoutDropped).
			SetStderrDropped(r.stderrDropped).
			SetExitCode(r.exitCode).
			SetResult(r.result)
	}
}

// record moves execution r.id to r.to if r.worker still owns it and its
// status allows it, and reports whether it did.
func (f *finisher) record(ctx context.Context, r *outcomeRecord) (bool, error) {
	f.batches.do(ctx, r)
	return r.ok, r.err
}

// commit writes batch in one transaction, or each alone if that fails (so
// one bad row cannot fail the others).
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
	}
}

// finishSQL records a batch of outcomes on PostgreSQL and announces each
// recorded one, in one statement: one round trip and one commit for the
// batch, whose NOTIFYs are delivered with it. Each row is still a
// compare-and-set: the owner and the statuses its target may come from
// (transitions). The channel and payload are those notify.Bus uses
// (notify.ChannelSQL).
const finishSQL = `WITH v AS (
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
    $7::boolean[], $8::text[], $9::text[], $10::boolean[], $11::boolean[], $12::bigint[], $13::bigint[],
    $14::bigint[], $15::text[], $16::text[])
  AS v(id, worker, status, from_statuses, finished_at, error, ran, stdout, stderr, stdout_truncated,
    stderr_truncated, stdout_dropped, stderr_dropped, exit_code, result, payload)
), u AS (
  UPDATE executions e SET status = v.status, updated_at = $17, finished_at = v.finished_at, error = v.error,
    stdout = CASE WHEN v.ran THEN v.stdout ELSE e.stdout END,
    stderr = CASE WHEN v.ran THEN v.stderr ELSE e.stderr END,
    stdout_truncated = CASE WHEN v.ran THEN v.stdout_truncated ELSE e.stdout_truncated END,
    stderr_truncated = CASE WHEN v.ran THEN v.stderr_truncated ELSE e.stderr_truncated END,
    stdout_dropped = CASE WHEN v.ran THEN v.stdout_dropped ELSE e.stdout_dropped END,
    stderr_dropped = CASE WHEN v.ran THEN v.stderr_dropped ELSE e.stderr_dropped END,
    exit_code = CASE WHEN v.ran THEN v.exit_code ELSE e.exit_code END,
    result = CASE WHEN v.ran THEN v.result::jsonb ELSE e.result END
  FROM v
  WHERE e.id = v.id AND e.worker = v.worker AND e.status = ANY (string_to_array(v.from_statuses, ','))
  RETURNING e.id, v.payload
)
SELECT id, pg_notify(` + notify.ChannelSQL + `, payload) FROM u`

func (f *finisher) write(ctx context.Context, batch []*outcomeRecord) error {
	if f.db.Dialect != dialect.Postgres {
		return f.writeSQLite(ctx, batch)
	}
	n := len(batch)
	var (
		ids                          = make([]int64, n)
		workers, statuses, froms     = make([]string, n), make([]string, n), make([]string, n)
		finished, errs               = make([]string, n), make([]string, n)
		ran, outTrunc, errTrunc      = make([]bool, n), make([]bool, n), make([]bool, n)
		stdouts, stderrs             = make([]string, n), make([]string, n)
		outDropped, errDropped, exit = make([]int64, n), make([]int64, n), make([]int64, n)
		results, payloads            = make([]string, n), make([]string, n)
	)
	byID := make(map[int]*outcomeRecord, n)
	for i, r := range batch {
		from, ok := transitions[r.to]
		if !ok {
			return fmt.Errorf("no transition leads to %s", r.to)
		}
		payload, err := json.Marshal(notify.Event{Kind: notify.Status, ID: r.id})
		if err != nil {
			return err
		}
		fs := make([]string, len(from))
		for j, s := range from {
			fs[j] = string(s)
		}
		ids[i], workers[i], statuses[i], froms[i] = int64(r.id), r.worker, string(r.to), strings.Join(fs, ",")
		finished[i], errs[i] = r.finishedAt.Format(time.RFC3339Nano), r.errMsg
		ran[i], stdouts[i], stderrs[i] = r.ran, r.stdout, r.stderr
		outTrunc[i], errTrunc[i], outDropped[i], errDropped[i] = r.stdoutTruncated, r.stderrTruncated, r.stdoutDropped, r.stderrDropped
		exit[i], results[i], payloads[i] = int64(r.exitCode), "null", string(payload)
		if r.ran && r.result != nil {
			results[i] = string(r.result)
		}
		r.ok = false
		byID[r.id] = r
	}
	var children []*outcomeRecord
	for _, r := range batch {
		if r.parentID != nil {
			children = append(children, r)
		}
	}
	if len(children) > 0 {
		// A workflow's child: its end and its workflow's next step commit together.
		return f.db.InTx(ctx, func(tx *store.Tx) error {
			if err := f.writePG(ctx, tx.SQL, batch, byID, ids, workers, statuses, froms, finished, errs, ran, stdouts, stderrs,
				outTrunc, errTrunc, outDropped, errDropped, exit, results, payloads); err != nil {
				return err
			}
			for _, r := range children {
				if r.ok {
					if err := f.ended(ctx, tx, r.parentID); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	return f.writePG(ctx, f.db.SQL, batch, byID, ids, workers, statuses, froms, finished, errs, ran, stdouts, stderrs,
		outTrunc, errTrunc, outDropped, errDropped, exit, results, payloads)
}

// writePG runs finishSQL through q (the database, or a transaction) and
// marks the recorded outcomes ok.
func (f *finisher) writePG(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, batch []*outcomeRecord, byID map[int]*outcomeRecord, ids []int64, workers, statuses, froms, finished, errs []string,
	ran []bool, stdouts, stderrs []string, outTrunc, errTrunc []bool, outDropped, errDropped, exit []int64, results, payloads []string,
) error {
	for _, r := range batch {
		r.ok = false
	}
	rows, err := q.QueryContext(ctx, finishSQL,
		store.PGArray(ids), store.PGArray(workers), store.PGArray(statuses), store.PGArray(froms), store.PGArray(finished), store.PGArray(errs),
		store.PGArray(ran), store.PGArray(stdouts), store.PGArray(stderrs), store.PGArray(outTrunc), store.PGArray(errTrunc),
		store.PGArray(outDropped), store.PGArray(errDropped), store.PGArray(exit), store.PGArray(results), store.PGArray(payloads),
		time.Now())
	if err != nil {
		return fmt.Errorf("recording outcomes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int
		var notified any
		if err := rows.Scan(&id, &notified); err != nil {
			return fmt.Errorf("recording outcomes: %w", err)
		}
		if r := byID[id]; r != nil {
			r.ok = true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("recording outcomes: %w", err)
	}
	return nil
}

// writeSQLite records a batch of outcomes on SQLite in one transaction, an
// UPDATE each, then announces them (the bus is in memory there, lost with
// the process only along with every subscriber). Under load every write
// queues for SQLite's one writer connection; runs ending together take it
// once instead of once each.
func (f *finisher) writeSQLite(ctx context.Context, batch []*outcomeRecord) error {
	ok := make([]bool, len(batch))
	err := f.db.InTx(ctx, func(tx *store.Tx) error {
		for i, r := range batch {
			var err error
			if ok[i], err = move(ctx, tx.Ent, r.id, r.to, r.apply); err != nil {
				return err
			}
			if ok[i] && r.parentID != nil {
				if err := f.ended(ctx, tx, r.parentID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording outcomes: %w", err)
	}
	for i, r := range batch {
		if r.ok = ok[i]; r.ok {
			f.bus.Announce(notify.Event{Kind: notify.Status, ID: r.id})
		}
	}
	return nil
}
