package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/store"
)

// wfSecretPack is an Orquesta workflow with a secret input that two tasks
// give to a shell action declaring it secret. The action proves what it
// received (its length and first four characters), and waits for its gate
// (a fifo) when it is given one.
func wfSecretPack() map[string]string {
	return map[string]string{
		"pack.yaml": "name: wfsec\nref: wfsec\nversion: 1.0.0\ndescription: workflow secrets\nauthor: tests\n",
		"actions/flow.yaml": "name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\ndescription: a secret input\n" +
			"parameters:\n  token: {type: string, secret: true, required: true}\n  gate: {type: string, default: ''}\n",
		"actions/workflows/flow.yaml": `version: 1.0
input:
  - token
  - gate
tasks:
  use:
    action: wfsec.peek token=<% ctx(token) %> gate=<% ctx(gate) %>
    next:
      - when: <% succeeded() %>
        publish:
          - first: <% result().seen %>
        do: again
  again:
    action: wfsec.peek token=<% ctx(token) %>
    next:
      - when: <% succeeded() %>
        publish:
          - second: <% result().seen %>
output:
  - first: <% ctx(first) %>
  - second: <% ctx(second) %>
`,
		"actions/peek.yaml": "name: peek\nrunner_type: shell\nentry_point: peek.sh\ndescription: peeks at a secret\n" +
			"parameters:\n  token: {type: string, secret: true, required: true}\n  gate: {type: string, default: ''}\n",
		// The parameters arrive as one JSON line on stdin (keys sorted).
		"actions/peek.sh": `#!/bin/bash
read -r p
g=${p#*\"gate\":\"}; g=${g%%\"*}
t=${p#*\"token\":\"}; t=${t%%\"*}
if [ -n "$g" ]; then read -r line < "$g"; fi
printf '{"seen": "%s"}\n' "${#t}:${t:0:4}"
`,
	}
}

// TestWorkflowSecretsSealed runs a workflow with a secret input through the
// real server on both backends: its tasks receive the secret, but neither
// the workflow's stored state (nor any column of workflow_executions) nor
// the executions of the workflow hold it while it runs, paused or not; it
// waits sealed in execution_secrets until the workflow ends, then goes. A
// re-run from a task asks for it again and renders the new value.
func TestWorkflowSecretsSealed(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		dir := t.TempDir()
		searchable(t, dir)
		dbURL := dbtest.URL(t, backend)
		s := startServer(t, []string{"ATTUNE_WORKER_ISOLATION_READ_PATHS=" + dir,
			"ATTUNE_ENCRYPTION_KEY=" + strings.Repeat("5a", 32)}, "-database-url", dbURL)
		w := &wfServer{server: s, gql: client(s, s.token), dir: dir}
		w.gql.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`,
			map[string]any{"s": writeTree(t, wfSecretPack())}, nil)
		db, err := store.Open(t.Context(), dbURL, "")
		require.NoError(t, err)
		defer db.Close()

		const secret = "s3cr3t-w0rkfl0w-value"
		gate := filepath.Join(dir, "gate")
		require.NoError(t, syscall.Mkfifo(gate, 0o600))
		require.NoError(t, os.Chmod(gate, 0o644))
		id := w.start(t, "wfsec.flow", map[string]any{"token": secret, "gate": gate})
		w.waitTask(t, id, "use", "RUNNING")
		noSecretStored(t, db.SQL, id, secret)
		require.Equal(t, []byte{1}, sealedOf(t, db.SQL, id)[:1], "sealed with the encryption key")
		var p struct{ PauseExecution struct{ Status string } }
		w.gql.Must(t, `mutation($id: ID!) { pauseExecution(id: $id) { status } }`, map[string]any{"id": id}, &p)
		require.Equal(t, "PAUSING", p.PauseExecution.Status)
		release(t, gate)
		w.waitStatus(t, id, "PAUSED")
		noSecretStored(t, db.SQL, id, secret)
		require.NotEmpty(t, sealedOf(t, db.SQL, id), "kept while the workflow is paused")
		w.gql.Must(t, `mutation($id: ID!) { resumeExecution(id: $id) { status } }`, map[string]any{"id": id}, nil)
		w.waitStatus(t, id, "SUCCEEDED", "FAILED", "CANCELED")
		run := w.read(t, id)
		require.Equal(t, "SUCCEEDED", run.Status, "%+v", run)
		require.JSONEq(t, `{"output": {"first": "21:s3cr", "second": "21:s3cr"}}`, string(run.Result),
			"the tasks before and after the pause received the secret")
		require.Contains(t, string(run.wf(t).Context), `"token":"********"`)
		noSecretStored(t, db.SQL, id, secret)
		require.Nil(t, sealedOf(t, db.SQL, id), "the sealed copy goes when the workflow ends")
		var api struct {
			WorkflowExecutions struct {
				Edges []struct {
					Node struct{ State json.RawMessage }
				}
			}
		}
		w.gql.Must(t, `{ workflowExecutions(first: 10) { edges { node { state } } } }`, nil, &api)
		require.NotEmpty(t, api.WorkflowExecutions.Edges)
		for _, e := range api.WorkflowExecutions.Edges {
			require.NotContains(t, string(e.Node.State), secret)
		}

		// A re-run from a task: the secret went with the original's end, so
		// it is asked for again, and the task renders the new value.
		e := w.gql.Fail(t, `mutation($id: ID!) { rerunExecution(input: {id: $id, tasks: ["again"]}) { id } }`,
			map[string]any{"id": id})
		require.Equal(t, "BAD_USER_INPUT", e.Code(), "%+v", e)
		require.Contains(t, e.Message, "token")
		const other = "0ther-s3cr3t"
		var rr struct{ RerunExecution struct{ ID string } }
		w.gql.Must(t, `mutation($id: ID!, $p: JSON) { rerunExecution(input: {id: $id, tasks: ["again"], parameters: $p}) { id } }`,
			map[string]any{"id": id, "p": map[string]any{"token": other}}, &rr)
		again := rr.RerunExecution.ID
		w.waitStatus(t, again, "SUCCEEDED", "FAILED", "CANCELED")
		rerun := w.read(t, again)
		require.Equal(t, "SUCCEEDED", rerun.Status, "%+v", rerun)
		require.JSONEq(t, `{"output": {"first": "21:s3cr", "second": "12:0the"}}`, string(rerun.Result),
			"use kept its result; again ran with the new secret")
		noSecretStored(t, db.SQL, again, other)
		noSecretStored(t, db.SQL, again, secret)
		require.Nil(t, sealedOf(t, db.SQL, again))
	})
}

// noSecretStored fails when secret appears in any column of any row of
// workflow_executions, or of the executions (and their output) of workflow
// execution id.
func noSecretStored(t *testing.T, db *sql.DB, id, secret string) {
	t.Helper()
	for _, q := range []string{
		"SELECT * FROM workflow_executions",
		fmt.Sprintf("SELECT * FROM executions WHERE id = %s OR parent_id = %s", id, id),
		fmt.Sprintf("SELECT o.* FROM execution_outputs o JOIN executions e ON e.id = o.execution_id WHERE e.id = %s OR e.parent_id = %s", id, id),
	} {
		rows, err := db.QueryContext(t.Context(), q)
		require.NoError(t, err, q)
		cols, err := rows.Columns()
		require.NoError(t, err)
		n := 0
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for i, v := range vals {
				require.NotContains(t, string(v), secret, "%s: column %s", q, cols[i])
			}
			n++
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		if strings.Contains(q, "executions") && !strings.Contains(q, "outputs") {
			require.NotZero(t, n, q)
		}
	}
}

// sealedOf returns the sealed secret parameters of execution id, nil when
// it has none.
func sealedOf(t *testing.T, db *sql.DB, id string) []byte {
	t.Helper()
	var b []byte
	err := db.QueryRowContext(t.Context(), "SELECT sealed FROM execution_secrets WHERE execution_id = "+id).Scan(&b)
	if err == sql.ErrNoRows {
		return nil
	}
	require.NoError(t, err)
	return b
}
