package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
)

// docWorkflowFiles builds, from the fenced YAML blocks of docs/workflows.md,
// the two packs its side-by-side example describes: "ops", an attune pack
// with the attune workflow, and "ops_st2", a StackStorm pack with the
// Orquesta workflow and the action-chain. Each block is placed by what it
// holds, so that the files are the document's own text.
func docWorkflowFiles(t *testing.T) (attune, st2 map[string]string) {
	t.Helper()
	raw, err := os.ReadFile("../docs/workflows.md")
	require.NoError(t, err)
	attune = map[string]string{"pack.yaml": "ref: ops\nlabel: ops\ndescription: docs/workflows.md\nversion: 1.0.0\n"}
	st2 = map[string]string{"pack.yaml": "---\nname: ops_st2\nversion: \"1.0.0\"\ndescription: docs/workflows.md\n"}
	place := []struct {
		marker string
		pack   map[string]string
		path   string
	}{
		{"workflow_file: workflows/deploy.workflow.yaml", attune, "actions/deploy.yaml"},
		{"output_map:", attune, "actions/workflows/deploy.workflow.yaml"},
		{"runner_type: orquesta", st2, "actions/deploy.yaml"},
		{"version: 1.0\ninput:", st2, "actions/workflows/deploy.yaml"},
		{"runner_type: action-chain", st2, "actions/deploy_chain.yaml"},
		{"chain:\n", st2, "actions/chains/deploy.yaml"},
	}
	for _, b := range parseFences(t, "docs/workflows.md", string(raw)) {
		if b.lang != "yaml" {
			continue
		}
		for _, p := range place {
			if strings.Contains(b.text, p.marker) {
				require.NotContains(t, p.pack, p.path, "two blocks of docs/workflows.md are %s", p.path)
				p.pack[p.path] = b.text + "\n"
				break
			}
		}
	}
	for _, p := range place {
		require.Contains(t, p.pack, p.path, "docs/workflows.md has no block for %s", p.path)
	}
	return attune, st2
}

// TestWorkflowDocExamples installs and runs the workflow written in three
// languages in docs/workflows.md, on SQLite and PostgreSQL: on success and on
// failure of its first task, each language takes the same path, and the
// Orquesta workflow's result is the one the document shows.
func TestWorkflowDocExamples(t *testing.T) {
	t.Parallel()
	attune, st2 := docWorkflowFiles(t)
	var shown, query, mutations, subscription string
	raw, err := os.ReadFile("../docs/workflows.md")
	require.NoError(t, err)
	for _, b := range parseFences(t, "docs/workflows.md", string(raw)) {
		switch {
		case b.lang == "json" && strings.HasPrefix(b.text, `{"output": {"version": "v1.2"`):
			shown = b.text
		case b.lang == "graphql" && strings.HasPrefix(b.text, "query {"):
			query = b.text
		case b.lang == "graphql" && strings.HasPrefix(b.text, "mutation { pauseExecution"):
			mutations = b.text
		case b.lang == "graphql" && strings.HasPrefix(b.text, "subscription {"):
			subscription = b.text
		}
	}
	require.NotEmpty(t, shown, "docs/workflows.md shows the Orquesta workflow's result")
	require.NotEmpty(t, query, "docs/workflows.md's query")
	require.NotEmpty(t, mutations, "docs/workflows.md's mutations")
	require.NotEmpty(t, subscription, "docs/workflows.md's subscription")

	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, nil, "-database-url", dbtest.URL(t, backend))
		w := &wfServer{server: s, gql: client(s, s.token)}
		for _, files := range []map[string]string{attune, st2} {
			w.gql.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`,
				map[string]any{"s": writeTree(t, files)}, nil)
		}
		hosts := []any{"web1", "web2"}
		for _, ref := range []string{"ops.deploy", "ops_st2.deploy", "ops_st2.deploy_chain"} {
			t.Run(ref, func(t *testing.T) {
				ok := w.run(t, ref, map[string]any{"cmd": "echo v1.2", "hosts": hosts})
				require.Equal(t, "SUCCEEDED", ok.Status, "%+v", ok)
				require.Equal(t, "check", ok.taskNames()[0])
				require.NotContains(t, ok.taskNames(), "report")
				each := ok.children("each")
				if ref == "ops_st2.deploy_chain" {
					require.Len(t, each, 1)
					require.Equal(t, "web1, web2 run v1.2\n", each[0].Stdout)
				} else {
					require.Len(t, each, 2)
					want := `{"version": "v1.2", "code": null, "outs": ["web1 runs v1.2", "web2 runs v1.2"]}`
					if ref == "ops.deploy" { // the attune file's message names the index; code starts at 0
						want = `{"version": "v1.2", "code": 0, "outs": ["web1 (0) runs v1.2", "web2 (1) runs v1.2"]}`
					}
					require.JSONEq(t, want, string(ok.Workflow.Output))
				}
				if ref == "ops_st2.deploy" {
					require.JSONEq(t, shown, string(ok.Result))
					testDocWorkflowGraphQL(t, w, ok.ID, query, mutations, subscription)
				}

				bad := w.run(t, ref, map[string]any{"cmd": "exit 3", "hosts": hosts})
				require.Equal(t, "SUCCEEDED", bad.Status, "a handled failure: %+v", bad)
				require.Equal(t, []string{"check", "report"}, bad.taskNames())
				require.Equal(t, "check failed with 3\n", bad.children("report")[0].Stdout)
			})
		}
	})
}

// testDocWorkflowGraphQL runs the GraphQL examples of docs/workflows.md
// against the finished workflow id ("…" in the document): the query reads
// its tasks, pausing or resuming a finished workflow is a CONFLICT, a re-run
// from check succeeds, and the subscription sends the tree and ends.
func testDocWorkflowGraphQL(t *testing.T, w *wfServer, id, query, mutations, subscription string) {
	t.Helper()
	withID := func(op string) string { return strings.ReplaceAll(op, "…", id) }

	res := w.gql.Do(t, withID(query), nil)
	require.Empty(t, res.Errors)
	var got struct {
		Execution struct {
			Status   string
			Workflow struct {
				Language string
				Tasks    []struct {
					Name      string
					ItemIndex *int
					Execution *struct{ ID string }
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(res.Data, &got))
	require.Equal(t, "SUCCEEDED", got.Execution.Status)
	require.Equal(t, "orquesta", got.Execution.Workflow.Language)
	require.Len(t, got.Execution.Workflow.Tasks, 3, "check and each's two items: %s", res.Data)
	require.NotNil(t, got.Execution.Workflow.Tasks[2].ItemIndex)

	ops := strings.Split(withID(mutations), "\n")
	require.Len(t, ops, 3)
	for _, op := range ops[:2] {
		require.Equal(t, "CONFLICT", w.gql.Fail(t, op, nil).Code(), "%s on a finished workflow", op)
	}
	var rerun struct{ RerunExecution struct{ ID string } }
	w.gql.Must(t, ops[2], nil, &rerun)
	again := w.read(t, rerun.RerunExecution.ID)
	if again.Status != "SUCCEEDED" {
		w.waitStatus(t, again.ID, "SUCCEEDED", "FAILED", "CANCELED")
		again = w.read(t, again.ID)
	}
	require.Equal(t, "SUCCEEDED", again.Status, "%+v", again)

	ctx, cancel := context.WithTimeout(t.Context(), wfDeadline)
	defer cancel()
	var tasks []string
	for data := range subscribe(t, ctx, w.server, withID(subscription), nil) {
		var d struct{ ExecutionUpdated struct{ TaskName string } }
		require.NoError(t, json.Unmarshal(data, &d), string(data))
		tasks = append(tasks, d.ExecutionUpdated.TaskName)
	}
	require.NoError(t, ctx.Err(), "the stream of a finished workflow ends")
	require.ElementsMatch(t, []string{"", "check", "each", "each"}, tasks, "the workflow and its tasks' executions")
}
