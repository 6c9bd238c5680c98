package execution_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	entexec "github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/execution"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/queue"
)

// claimedBy stores an execution that worker claimed and never finished.
func (b *bundle) claimedBy(t *testing.T, act *ent.Action, worker string, heartbeat time.Time) *ent.Execution {
	t.Helper()
	ctx := t.Context()
	if !heartbeat.IsZero() {
		b.db.Ent.Worker.Create().SetName(worker).SetHeartbeatAt(heartbeat).ExecX(ctx)
	}
	return b.db.Ent.Execution.Create().SetAction(act).SetActionRef(act.Ref).SetPackRef("tp").
		SetStatus(execution.Running).SetWorker(worker).SetAttempt(1).SetStartedAt(time.Now()).SaveX(ctx)
}

func TestRedeliveryNeverReruns(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		marker := filepath.Join(t.TempDir(), "ran")
		b := setup(t, backend, map[string]string{"mark.sh": "#!/bin/bash\ntouch " + marker + "\n"},
			setupOptions{insertOnly: true})
		act := b.action(t, "mark", action.RunnerTypeSHELL, "mark.sh", nil)

		dead := b.claimedBy(t, act, "dead-worker", time.Time{})
		require.NoError(t, b.worker.Run(t.Context(), dead.ID))
		e := b.db.Ent.Execution.GetX(t.Context(), dead.ID)
		require.Equal(t, execution.Abandoned, e.Status)
		require.Contains(t, e.Error, `worker "dead-worker" stopped`)
		require.Equal(t, 1, e.Attempt)

		alive := b.claimedBy(t, act, "busy-worker", time.Now())
		err := b.worker.Run(t.Context(), alive.ID)
		require.ErrorIs(t, err, queue.Snooze(0), "waits for the live owner")
		require.Equal(t, execution.Running, b.db.Ent.Execution.GetX(t.Context(), alive.ID).Status)
		require.NoFileExists(t, marker)
	})
}

func TestReap(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend, packFiles, setupOptions{insertOnly: true})
		act := b.action(t, "text", action.RunnerTypeSHELL, "text.sh", nil)
		now := time.Now()
		stale := b.claimedBy(t, act, "stale", now.Add(-time.Hour))
		gone := b.claimedBy(t, act, "gone", time.Time{})
		fresh := b.claimedBy(t, act, "fresh", now)
		n, err := b.svc.Reap(t.Context(), now.Add(-time.Minute))
		require.NoError(t, err)
		require.Equal(t, 2, n)
		for id, want := range map[int]entexec.Status{stale.ID: execution.Abandoned, gone.ID: execution.Abandoned, fresh.ID: execution.Running} {
			e := b.db.Ent.Execution.GetX(t.Context(), id)
			require.Equal(t, want, e.Status, e.Worker)
		}
		names := b.db.Ent.Worker.Query().Select("name").StringsX(t.Context())
		require.Equal(t, []string{"fresh"}, names, "dead workers are forgotten")
	})
}

func TestPurge(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend, packFiles, setupOptions{})
		b.action(t, "text", action.RunnerTypeSHELL, "text.sh", nil)
		old := b.run(t, "tp.text", nil)
		recent := b.run(t, "tp.text", nil)
		running := b.claimedBy(t, b.db.Ent.Action.Query().OnlyX(t.Context()), "w", time.Now())
		ctx := t.Context()
		cutoff := time.Now().Add(-time.Hour)
		b.db.Ent.Execution.UpdateOneID(old.ID).SetFinishedAt(cutoff.Add(-time.Minute)).ExecX(ctx)
		require.Positive(t, b.db.Ent.ExecutionOutput.Query().CountX(ctx))
		// What a workflow keeps goes with its execution: its state, and
		// sealed secrets had it ended without dropping them.
		b.db.Ent.WorkflowExecution.Create().SetExecutionID(old.ID).ExecX(ctx)
		b.db.Ent.ExecutionSecret.Create().SetExecutionID(old.ID).SetSealed([]byte("\x00{}")).ExecX(ctx)
		n, err := b.svc.Purge(ctx, cutoff)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		ids := b.db.Ent.Execution.Query().IDsX(ctx)
		require.ElementsMatch(t, []int{recent.ID, running.ID}, ids)
		require.Zero(t, b.db.Ent.WorkflowExecution.Query().CountX(ctx))
		require.Zero(t, b.db.Ent.ExecutionSecret.Query().CountX(ctx))
	})
}

func TestCancelActive(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend, packFiles, setupOptions{insertOnly: true})
		b.action(t, "text", action.RunnerTypeSHELL, "text.sh", nil)
		for range 3 {
			_, err := b.svc.Request(t.Context(), execution.Request{Action: "tp.text"})
			require.NoError(t, err)
		}
		n, err := b.svc.CancelActive(t.Context(), "tp")
		require.NoError(t, err)
		require.Equal(t, 3, n)
		n, err = b.svc.CancelActive(t.Context(), "tp")
		require.NoError(t, err)
		require.Zero(t, n)
	})
}

// TestSecretsRedacted runs an action that echoes its secret everywhere it
// can and requires the plaintext nowhere but in the process's own input:
// not in argv or environment (ps), stored parameters, results, output
// lines, errors, logs, subscription payloads or any database table.
func TestSecretsRedacted(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		const secret = "hunter2-s3cr3t-value"
		gatePath := filepath.Join(t.TempDir(), "gate")
		require.NoError(t, syscall.Mkfifo(gatePath, 0o600))
		b := setup(t, backend, map[string]string{
			"leak.sh": "#!/bin/bash\nread -r p\necho \"params: $p\"\necho \"to stderr: $p\" >&2\n" +
				"read -r _ < " + gatePath + "\necho \"$p\" | python3 -c 'import sys,json; p=json.load(sys.stdin); print(json.dumps({\"echo\": p[\"token\"], \"user\": p[\"user\"]}))'\n" +
				"echo \"failing with $p\" >&2\nexit 1\n",
		}, setupOptions{})
		b.action(t, "leak", action.RunnerTypeSHELL, "leak.sh", map[string]any{
			"user":  map[string]any{"type": "string"},
			"token": map[string]any{"type": "string", "secret": true},
		})
		ctx, cancel := context.WithTimeout(t.Context(), deadline)
		defer cancel()
		e, err := b.svc.Request(ctx, execution.Request{Action: "tp.leak", Parameters: map[string]any{"user": "bob", "token": secret}})
		require.NoError(t, err)
		require.Equal(t, map[string]any{"user": "bob", "token": param.Redacted}, e.Parameters)
		updates, err := b.svc.Updates(ctx, execution.UpdateFilter{ID: &e.ID})
		require.NoError(t, err)
		lines, err := b.svc.Output(ctx, e.ID, 0)
		require.NoError(t, err)
		var seen strings.Builder
		first := <-lines
		fmt.Fprintf(&seen, "%+v\n", first)

		// The action is running and blocked: nothing on the machine shows it.
		ps, err := exec.Command("ps", "axeww", "-o", "pid,args").CombinedOutput()
		require.NoError(t, err)
		require.NotContains(t, string(ps), secret)
		require.Zero(t, b.db.Ent.ExecutionSecret.Query().CountX(ctx), "the plaintext left the database when the run started")
		f, err := os.OpenFile(gatePath, os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString("go\n")
		require.NoError(t, err)
		require.NoError(t, f.Close())

		for l := range lines {
			fmt.Fprintf(&seen, "%+v\n", l)
		}
		for u := range updates {
			fmt.Fprintf(&seen, "%+v %s\n", u, u.Result)
			e = u
		}
		require.Equal(t, execution.Failed, e.Status)
		require.JSONEq(t, `{"echo":"********","user":"bob"}`, string(e.Result))
		require.Contains(t, e.Stdout, `"token":"********"`)
		require.Contains(t, e.Error, "failing with")
		require.Contains(t, seen.String(), "params: ")
		require.NotContains(t, seen.String(), secret, "subscription payloads")
		require.NotContains(t, b.logs.String(), secret, "logs")
		require.NotContains(t, dumpDatabase(t, b.db.SQL, backend), secret, "database")
	})
}

// dumpDatabase renders every row of every table as text.
func dumpDatabase(t *testing.T, db *sql.DB, backend string) string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table'"
	if backend == "postgres" {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
	}
	rows, err := db.Query(q)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Close())
	require.Contains(t, tables, "river_job")
	var out strings.Builder
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM "` + table + `"`)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				fmt.Fprintf(&out, "%v\t", v)
			}
			out.WriteString("\n")
		}
		require.NoError(t, rows.Close())
	}
	return out.String()
}
