package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
)

// wfPack is a StackStorm-format pack of Orquesta workflows over core actions.
func wfPack() map[string]string {
	return map[string]string{
		"pack.yaml": "name: wfsmoke\nref: wfsmoke\nversion: 1.0.0\ndescription: workflow smoke\nauthor: tests\n",
		"actions/seq.yaml": "name: seq\nrunner_type: orquesta\nentry_point: workflows/seq.yaml\ndescription: a sequence\n" +
			"parameters:\n  who: {type: string, default: world}\n",
		"actions/sec.yaml": "name: sec\nrunner_type: orquesta\nentry_point: workflows/sec.yaml\ndescription: a secret input\n" +
			"parameters:\n  token: {type: string, secret: true, required: true}\n",
		"actions/workflows/sec.yaml": "version: 1.0\ninput:\n  - token\ntasks:\n  one:\n    action: core.noop\n" +
			"output:\n  - size: <% len(ctx(token)) %>\n",
		"actions/workflows/seq.yaml": `version: 1.0
input:
  - who
vars:
  - greeting: hello
tasks:
  one:
    action: core.echo message="<% ctx(greeting) %> <% ctx(who) %>"
    next:
      - when: <% succeeded() %>
        publish:
          - said: <% result().stdout %>
        do: many
  many:
    with:
      items: <% list(1, 2, 3) %>
      concurrency: 2
    action: core.echo message="item <% item() %>"
    next:
      - when: <% succeeded() %>
        publish:
          - items: <% result().select($.stdout) %>
output:
  - said: <% ctx(said) %>
  - items: <% ctx(items) %>
`,
	}
}

// TestWorkflowSmoke runs an Orquesta workflow (input, vars, a task,
// publish, with-items, output) through the real server on both backends.
func TestWorkflowSmoke(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		gql := client(s, s.token)
		gql.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`,
			map[string]any{"s": writeTree(t, wfPack())}, nil)
		id := execute(t, s, "wfsmoke.seq", map[string]any{"who": "attune"})
		follow(t, s, id)
		var got struct {
			Node struct {
				Status   string
				Error    string
				Result   json.RawMessage
				Workflow struct {
					Status  string
					Context map[string]any
					Tasks   []struct {
						Name      string
						Status    string
						ItemIndex *int
					}
				}
			}
		}
		gql.Must(t, `query($id: ID!) { node(id: $id) { ... on Execution { status error result
			workflow { status context tasks { name status itemIndex } } } } }`, map[string]any{"id": id}, &got)
		require.Equal(t, "SUCCEEDED", got.Node.Status, "%+v %s", got, got.Node.Result)
		require.JSONEq(t, `{"output": {"said": "hello attune", "items": ["item 1", "item 2", "item 3"]}}`, string(got.Node.Result))
		// The state each step stored (as raw JSON) reads back through the API.
		require.Equal(t, "hello attune", got.Node.Workflow.Context["said"])
		require.Equal(t, []any{"item 1", "item 2", "item 3"}, got.Node.Workflow.Context["items"])
		require.Len(t, got.Node.Workflow.Tasks, 4)
		require.Equal(t, "one", got.Node.Workflow.Tasks[0].Name)

		// A secret input is used by the workflow but never shown in its context.
		sid := execute(t, s, "wfsmoke.sec", map[string]any{"token": "s3cr3t-value"})
		follow(t, s, sid)
		var sec struct {
			Node struct {
				Status, Parameters string
				Result             json.RawMessage
				Workflow           struct{ Context json.RawMessage }
			}
		}
		gql.Must(t, `query($id: ID!) { node(id: $id) { ... on Execution { status result workflow { context } } } }`,
			map[string]any{"id": sid}, &sec)
		require.Equal(t, "SUCCEEDED", sec.Node.Status, "%s", sec.Node.Result)
		require.JSONEq(t, `{"output": {"size": 12}}`, string(sec.Node.Result))
		require.NotContains(t, string(sec.Node.Workflow.Context), "s3cr3t-value")
		require.Contains(t, string(sec.Node.Workflow.Context), `"token":"********"`)
	})
}

// TestWorkflowSurvivesKilledNode runs a workflow across two worker nodes
// and an API node on PostgreSQL, and kills one worker with SIGKILL
// mid-workflow, right as a task ends (its step may be under way there):
// the other node carries the workflow to its end, and no task runs twice.
func TestWorkflowSurvivesKilledNode(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.URL(t, "postgres")
	env := []string{"ATTUNE_WORKER_ABANDON_AFTER=3s", "ATTUNE_WORKER_ISOLATION=off"}
	api := startServer(t, env, "-database-url", dbURL, "-roles", "api")
	nodes := []*server{
		startDoomed(t, env, "-database-url", dbURL, "-roles", "api,worker"),
		startDoomed(t, env, "-database-url", dbURL, "-roles", "api,worker"),
	}
	dir := t.TempDir()
	gate1, gate2 := filepath.Join(dir, "gate1"), filepath.Join(dir, "gate2")
	wait := func(f string) string { return "while [ ! -e " + f + " ]; do sleep 0.05; done; echo passed" }
	pack := map[string]string{
		"pack.yaml":         "name: wfkill\nref: wfkill\nversion: 1.0.0\ndescription: kill\nauthor: tests\n",
		"actions/flow.yaml": "name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\ndescription: flow\n",
		"actions/workflows/flow.yaml": `version: 1.0
tasks:
  a:
    action: core.local cmd="` + wait(gate1) + `"
    next:
      - when: <% succeeded() %>
        do: b
  b:
    with:
      items: <% list(1, 2, 3, 4) %>
      concurrency: 2
    action: core.echo message="item <% item() %>"
    next:
      - when: <% succeeded() %>
        do: c
  c:
    action: core.local cmd="` + wait(gate2) + `"
output:
  - done: <% task_status(c) %>
`,
	}
	client(api, api.token).Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`,
		map[string]any{"s": writeTree(t, pack)}, nil)
	id := execute(t, api, "wfkill.flow", nil)

	type child struct {
		TaskName string
		Status   string
		Worker   string
	}
	children := func() []child {
		var got struct {
			Node struct {
				Children struct{ Edges []struct{ Node child } }
			}
		}
		client(api, api.token).Must(t, `query($id: ID!) { node(id: $id) { ... on Execution {
			children(first: 100) { edges { node { taskName status worker } } } } } }`, map[string]any{"id": id}, &got)
		out := make([]child, len(got.Node.Children.Edges))
		for i, e := range got.Node.Children.Edges {
			out[i] = e.Node
		}
		return out
	}
	var running child
	eventually(t, execDeadline, "task a to run", func() bool {
		kids := children()
		if len(kids) == 1 && kids[0].Status == "RUNNING" {
			running = kids[0]
			return true
		}
		return false
	})
	// Kill the node that is not running task a, as a ends.
	doomed, survivor := nodes[0], nodes[1]
	if strings.Contains(nodes[0].out.String(), `worker="`+running.Worker+`"`) ||
		strings.Contains(nodes[0].out.String(), "worker="+running.Worker+" ") {
		doomed, survivor = nodes[1], nodes[0]
	}
	require.NoError(t, os.WriteFile(gate1, nil, 0o644))
	require.NoError(t, doomed.cmd.Process.Kill())
	<-doomed.done
	require.NoError(t, os.WriteFile(gate2, nil, 0o644))

	states := follow(t, api, id)
	last := states[len(states)-1]
	require.Equal(t, "SUCCEEDED", last.Status, "%+v\n%s", states, survivor.out.String())
	require.JSONEq(t, `{"output": {"done": "succeeded"}}`, string(last.Result))
	count := map[string]int{}
	for _, k := range children() {
		require.Equal(t, "SUCCEEDED", k.Status, "%+v", k)
		count[k.TaskName]++
	}
	require.Equal(t, map[string]int{"a": 1, "b": 4, "c": 1}, count, "each task (and item) ran exactly once")
}

// TestWorkflowTreeStreams follows a workflow with
// executionUpdated(workflow:): the workflow and every task's execution
// arrive (children as they are created), each task ends SUCCEEDED, and the
// stream ends once the workflow finished.
func TestWorkflowTreeStreams(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		client(s, s.token).Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`,
			map[string]any{"s": writeTree(t, wfPack())}, nil)
		id := execute(t, s, "wfsmoke.seq", nil)
		ctx, cancel := context.WithTimeout(t.Context(), execDeadline)
		defer cancel()
		final := map[string]string{} // execution id → last status seen
		task := map[string]string{}  // execution id → task name
		rootLast := ""
		for data := range subscribe(t, ctx, s, `subscription($id: ID!) { executionUpdated(workflow: $id) {
			id status taskName parent { id } } }`, map[string]any{"id": id}) {
			var ev struct {
				ExecutionUpdated struct {
					ID, Status, TaskName string
					Parent               *struct{ ID string }
				}
			}
			require.NoError(t, json.Unmarshal(data, &ev))
			e := ev.ExecutionUpdated
			if e.ID == id {
				rootLast = e.Status
				continue
			}
			require.NotNil(t, e.Parent, "only the workflow's tree is streamed")
			require.Equal(t, id, e.Parent.ID)
			final[e.ID], task[e.ID] = e.Status, e.TaskName
		}
		require.NoError(t, ctx.Err(), "the stream ended by itself")
		require.Equal(t, "SUCCEEDED", rootLast)
		count := map[string]int{}
		for eid, st := range final {
			require.Equal(t, "SUCCEEDED", st, "task %s (%s)", task[eid], eid)
			count[task[eid]]++
		}
		require.Equal(t, map[string]int{"one": 1, "many": 3}, count)
	})
}
