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

// claimSQL claims executions that wait to run, have no secret parameters
// and whose action has no policies (those are decided in the claim
// transaction, policy.go), in one statement, returning what each run needs, the
// action's and pack's columns included. An execution with secrets, one
// already claimed (a redelivered job) or one gone matches no row, and the
// worker falls back to the transaction in claim. The statement is its own
// transaction, so it keeps the compare-and-set of move: the status check
// and the change are one atomic UPDATE. Placeholders are written $n and
// rewritten to ?n for SQLite.
//
// The action's and pack's columns are subqueries, not UPDATE ... FROM a
// join: SQLite's RETURNING may name only the updated table's columns.
//
// Claims are not batched across runs as outcomes are: a batch of claims
// (id = ANY) measured no faster, the statement being cheap and its commit
// carrying no NOTIFY, while a claim then also waits for the batch before.
var claimSQL = `UPDATE executions
SET status = '` + string(Running) + `', worker = $2, started_at = $3, updated_at = $4, attempt = attempt + 1
WHERE id = $1 AND status IN (` + sqlStatuses(claimable) + `)
  AND NOT EXISTS (SELECT 1 FROM execution_secrets s WHERE s.execution_id = executions.id)
  AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.id = executions.action_id AND a.has_policies)
RETURNING id, action_ref, pack_ref, parameters, timeout_seconds, attempt, parent_id, requested_by,
  (SELECT a.entry_point FROM actions a WHERE a.id = executions.action_id),
  (SELECT a.runner_type FROM actions a WHERE a.id = executions.action_id),
  (SELECT a.runner_name FROM actions a WHERE a.id = executions.action_id),
  (SELECT a.parameter_delivery FROM actions a WHERE a.id = executions.action_id),
  (SELECT p.path FROM actions a JOIN packs p ON p.id = a.pack_id WHERE a.id = executions.action_id),
  (SELECT p.env_path FROM actions a JOIN packs p ON p.id = a.pack_id WHERE a.id = executions.action_id),
  (SELECT a.idempotent FROM actions a WHERE a.id = executions.action_id),
  (SELECT a.parameters FROM actions a WHERE a.id = executions.action_id),
  pack_checksum,
  (SELECT a.notify FROM actions a WHERE a.id = executions.action_id)`

// claimSQLite is claimSQL with SQLite's placeholders.
var claimSQLite = sqlitePlaceholders(claimSQL)

// sqlStatuses lists statuses as SQL literals, for an IN (...).
func sqlStatuses(ss []execution.Status) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + string(s) + "'"
	}
	return strings.Join(q, ", ")
}

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

// claimFast is the fast claim (see claimSQL). It returns nil, nil when no
// row matched.
func (w *Worker) claimFast(ctx context.Context, id int) (*claimed, error) {
	q := claimSQL
	if w.svc.db.Dialect != dialect.Postgres {
		q = claimSQLite
	}
	rows, err := w.svc.db.SQL.QueryContext(ctx, q, id, w.opts.Name, w.svc.now(), time.Now())
	if err != nil {
		return nil, err
	}
	return scanClaim(rows)
}

// scanClaim reads claimSQL's row, if any, and closes rows. The rows are
// closed before the parameters are decoded: until then they hold the
// connection, on SQLite the one every write waits for.
func scanClaim(rows *sql.Rows) (*claimed, error) {
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var (
		e                       ent.Execution
		params                  []byte
		entry, runner, delivery sql.NullString
		runnerName              sql.NullString
		packPath, envPath       sql.NullString
		idempotent              sql.NullBool
		schema                  []byte
		parent                  sql.NullInt64
		notify                  []byte
	)
	err := rows.Scan(&e.ID, &e.ActionRef, &e.PackRef, &params, &e.TimeoutSeconds, &e.Attempt, &parent, &e.RequestedBy,
		&entry, &runner, &runnerName, &delivery, &packPath, &envPath, &idempotent, &schema, &e.PackChecksum, &notify)
	if err != nil {
		return nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if parent.Valid {
		p := int(parent.Int64)
		e.ParentID = &p
	}
	c := &claimed{exec: &e}
	if len(params) > 0 {
		if err := json.Unmarshal(params, &e.Parameters); err != nil {
			// Claimed already: the run fails in preparation.
			e.Parameters = nil
			c.badParams = fmt.Errorf("decoding parameters: %w", err)
		}
	}
	if entry.Valid {
		c.action = &ent.Action{
			Ref:               e.ActionRef,
			PackRef:           e.PackRef,
			EntryPoint:        entry.String,
			RunnerType:        action.RunnerType(runner.String),
			RunnerName:        runnerName.String,
			ParameterDelivery: action.ParameterDelivery(delivery.String),
			Idempotent:        idempotent.Bool,
		}
		if len(schema) > 0 {
			if err := json.Unmarshal(schema, &c.action.Parameters); err != nil && c.badParams == nil {
				c.badParams = fmt.Errorf("decoding the parameter schema of %s: %w", e.ActionRef, err)
			}
		}
		if len(notify) > 0 {
			// Notify settings only decide how the outcome is recorded
			// (finishInTx); unreadable ones are the trigger's business.
			_ = json.Unmarshal(notify, &c.action.Notify)
		}
		if packPath.Valid {
			c.action.Edges.Pack = &ent.Pack{Path: packPath.String, EnvPath: envPath.String}
		}
	}
	return c, nil
}
