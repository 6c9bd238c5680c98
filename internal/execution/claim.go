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
	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/ent/execution"
)

// claimOneSQL claims an execution that waits to run and has no secret
// parameters in one statement, returning what the run needs, the action's
// and pack's columns included. An execution with secrets, one already
// claimed (a redelivered job) or one gone matches no row, and the worker
// falls back to the transaction in claim. The statement is its own
// transaction, so it keeps the compare-and-set of move: the status check
// and the change are one atomic UPDATE. Placeholders are written $n and
// rewritten to ? for SQLite.
var claimOneSQL = `UPDATE executions
SET status = '` + string(Running) + `', worker = $2, started_at = $3, updated_at = $4, attempt = attempt + 1
WHERE id = $1 AND status IN (` + sqlStatuses(transitions[Running]) + `)
  AND NOT EXISTS (SELECT 1 FROM execution_secrets s WHERE s.execution_id = executions.id)
RETURNING action_ref, pack_ref, parameters, timeout_seconds,
  (SELECT a.entry_point FROM actions a WHERE a.id = executions.action_id),
  (SELECT a.runner_type FROM actions a WHERE a.id = executions.action_id),
  (SELECT a.parameter_delivery FROM actions a WHERE a.id = executions.action_id),
  (SELECT p.path FROM actions a JOIN packs p ON p.id = a.pack_id WHERE a.id = executions.action_id),
  (SELECT p.env_path FROM actions a JOIN packs p ON p.id = a.pack_id WHERE a.id = executions.action_id)`

// sqlStatuses lists statuses as SQL literals, for an IN (...).
func sqlStatuses(ss []execution.Status) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + string(s) + "'"
	}
	return strings.Join(q, ", ")
}

// claimOneSQLite is claimOneSQL with SQLite's placeholders.
var claimOneSQLite = sqlitePlaceholders(claimOneSQL)

// sqlitePlaceholders turns $1..$9 into ?1..?9 (SQLite's numbered form).
func sqlitePlaceholders(q string) string {
	b := []byte(q)
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '$' && b[i+1] >= '1' && b[i+1] <= '9' {
			b[i] = '?'
		}
	}
	return string(b)
}

// claimOne is the fast claim (see claimOneSQL). It returns nil, nil when
// no row matched: the caller takes the slow path.
func (w *Worker) claimOne(ctx context.Context, id int) (*claimed, error) {
	q := claimOneSQL
	if w.svc.db.Dialect != dialect.Postgres {
		q = claimOneSQLite
	}
	var (
		actionRef, packRef      string
		params                  []byte
		timeout                 int
		entry, runner, delivery sql.NullString
		packPath, envPath       sql.NullString
	)
	err := w.svc.db.SQL.QueryRowContext(ctx, q, id, w.opts.Name, w.svc.now(), time.Now()).
		Scan(&actionRef, &packRef, &params, &timeout, &entry, &runner, &delivery, &packPath, &envPath)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	e := &ent.Execution{ID: id, ActionRef: actionRef, PackRef: packRef, TimeoutSeconds: timeout}
	if len(params) > 0 {
		if err := json.Unmarshal(params, &e.Parameters); err != nil {
			return nil, fmt.Errorf("decoding parameters: %w", err)
		}
	}
	c := &claimed{exec: e}
	if entry.Valid {
		c.action = &ent.Action{
			EntryPoint:        entry.String,
			RunnerType:        action.RunnerType(runner.String),
			ParameterDelivery: action.ParameterDelivery(delivery.String),
		}
		if packPath.Valid {
			c.action.Edges.Pack = &ent.Pack{Path: packPath.String, EnvPath: envPath.String}
		}
	}
	return c, nil
}
