package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
)

// workflowPack is a pack with one workflow action of each language, each running the pack's
// own action and core's; bad replaces files.
func workflowPack(bad map[string]string) map[string]string {
	files := map[string]string{
		"pack.yaml":          "---\nname: flows\nversion: \"1.0.0\"\n",
		"actions/greet.yaml": "---\nname: greet\nrunner_type: local-shell-cmd\nparameters:\n  cmd: {default: echo hi}\n  who: {type: string, required: true}\n",
		"actions/orq.yaml":   "---\nname: orq\nrunner_type: orquesta\nentry_point: workflows/orq.yaml\nparameters:\n  who: {type: string, default: you}\n",
		"actions/workflows/orq.yaml": `version: 1.0
input:
  - who
tasks:
  hello:
    action: flows.greet who=<% ctx(who) %>
    next:
      - when: <% succeeded() %>
        publish: said=<% result().stdout %>
        do: bye
  bye:
    action: core.echo message="{{ ctx('said') }}"
output:
  - said: <% ctx(said) %>
`,
		"actions/chain.yaml":        "---\nname: chain\nrunner_type: action-chain\nentry_point: chains/chain.yaml\n",
		"actions/chains/chain.yaml": "chain:\n  - name: one\n    ref: flows.greet\n    params: {who: chain}\n    on-success: two\n  - name: two\n    ref: core.noop\n",
		"actions/deploy.yaml":       "---\nname: deploy\nworkflow_file: workflows/deploy.workflow.yaml\n",
		"workflows/cleanup.yaml":    "label: Cleanup\ntasks:\n  - name: sweep\n    action: core.noop\n    next:\n      - do: [done]\n  - name: done\n    action: core.noop\n",
		"actions/workflows/deploy.workflow.yaml": `tasks:
  - name: first
    action: flows.greet
    input: {who: "{{ parameters.who }}"}
    next:
      - when: "{{ succeeded() }}"
        do: [second]
  - name: second
    action: core.noop
`,
	}
	for k, v := range bad {
		files[k] = v
	}
	return files
}

// TestWorkflowsAreValidatedAtInstall: a workflow file is checked when its pack installs, in
// its runner's language, against the actions of the pack and the installed ones. Every problem
// comes in one BAD_USER_INPUT with file, line and task, and nothing of the pack stays; a
// valid pack installs with each workflow action's file at its entry point.
func TestWorkflowsAreValidatedAtInstall(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		gql := client(s, s.token)
		data := filepath.Join(s.dir, "data")

		src := writeTree(t, workflowPack(map[string]string{
			"actions/workflows/orq.yaml": `version: 1.0
tasks:
  hello:
    action: flows.greet who="me"
    next:
      - when: <% succeeded( %>
        do: nowhere
  bye:
    action: core.frobnicate
`,
			"actions/chains/chain.yaml": "chain:\n  - name: one\n    ref: flows.greet\n    on-success: three\n",
			"workflows/cleanup.yaml":    "label: Cleanup\ntasks:\n  - name: sweep\n    action: core.noop\n    next:\n      - do: [gone]\n",
		}))
		e := gql.Fail(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`, map[string]any{"s": src})
		require.Equal(t, "BAD_USER_INPUT", e.Code(), e.Message)
		require.Equal(t, "validate", e.Extensions["step"])
		var probs []struct {
			File, Task, Field, Message string
			Line                       int
		}
		raw, err := json.Marshal(e.Extensions["problems"])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &probs))
		type located struct {
			File, Task, Field string
			Line              int
		}
		got := map[located]string{}
		for _, p := range probs {
			got[located{p.File, p.Task, p.Field, p.Line}] = p.Message
		}
		orq, chain := "actions/workflows/orq.yaml", "actions/chains/chain.yaml"
		require.Len(t, got, 6, "%+v", probs)
		require.Contains(t, got[located{"workflows/cleanup.yaml", "sweep", "tasks[0].next[0].do", 6}], `the task "gone" is not defined`)
		require.Contains(t, got[located{orq, "hello", "tasks.hello.next[0].when", 6}], "succeeded(", "the YAQL syntax error")
		require.Contains(t, got[located{orq, "hello", "tasks.hello.next[0].do", 7}], `the task "nowhere" is not defined`)
		require.Contains(t, got[located{orq, "bye", "tasks.bye.action", 9}], `the action "core.frobnicate" is not registered`)
		require.Contains(t, got[located{chain, "one", "chain[0].on-success", 4}], `the task "three" is not defined`)
		require.Contains(t, got[located{chain, "one", "chain[0].input", 2}], `action "flows.greet" is missing required input "who"`, "%+v", probs)
		require.Contains(t, e.Message, "actions/workflows/orq.yaml:9: task bye: tasks.bye.action: the action \"core.frobnicate\" is not registered")

		// An install followed in the background records the same problems.
		var started struct{ StartPackInstall struct{ ID string } }
		gql.Must(t, `mutation($s: String!) { startPackInstall(input: {source: $s}) { id } }`, map[string]any{"s": src}, &started)
		var rec struct {
			Node struct{ Status, Step, Error string }
		}
		eventually(t, execDeadline, "the background install to fail", func() bool {
			gql.Must(t, `query($id: ID!) { node(id: $id) { ... on PackInstall { status step error } } }`,
				map[string]any{"id": started.StartPackInstall.ID}, &rec)
			return rec.Node.Status == "FAILED"
		})
		require.Equal(t, "validate", rec.Node.Step)
		require.Contains(t, rec.Node.Error, `actions/workflows/orq.yaml:9: task bye: tasks.bye.action: the action "core.frobnicate" is not registered`)
		require.Contains(t, rec.Node.Error, `workflows/cleanup.yaml:6: task sweep: tasks[0].next[0].do: the task "gone" is not defined`)

		var left struct {
			Packs   struct{ TotalCount int }
			Actions struct{ TotalCount int }
		}
		gql.Must(t, `{ packs(where:{ref:"flows"}){ totalCount } actions(where:{packRef:"flows"}){ totalCount } }`, nil, &left)
		require.Zero(t, left.Packs.TotalCount, "no pack row")
		require.Zero(t, left.Actions.TotalCount, "no action rows")
		for _, pattern := range []string{"packs/flows", "packs/.tmp/install-*"} {
			m, err := filepath.Glob(filepath.Join(data, pattern))
			require.NoError(t, err)
			require.Empty(t, m, "no files left: %s", pattern)
		}

		// The same pack with valid workflows installs; each workflow action's file is its entry point.
		gql.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`,
			map[string]any{"s": writeTree(t, workflowPack(nil))}, nil)
		var acts struct {
			Actions struct {
				Edges []struct {
					Node struct{ Ref, RunnerType, RunnerName, EntryPoint string }
				}
			}
		}
		gql.Must(t, `{ actions(where:{packRef:"flows"}){ edges{ node{ ref runnerType runnerName entryPoint } } } }`, nil, &acts)
		type row struct{ Ref, RunnerType, RunnerName, EntryPoint string }
		var rows []row
		for _, ed := range acts.Actions.Edges {
			rows = append(rows, row(ed.Node))
		}
		require.ElementsMatch(t, []row{
			{"flows.chain", "WORKFLOW", "action-chain", "actions/chains/chain.yaml"},
			{"flows.deploy", "WORKFLOW", "workflow", "actions/workflows/deploy.workflow.yaml"},
			{"flows.greet", "LOCAL", "local-shell-cmd", ""},
			{"flows.orq", "WORKFLOW", "orquesta", "actions/workflows/orq.yaml"},
		}, rows)
		var defs struct{ WorkflowDefinitions struct{ TotalCount int } }
		gql.Must(t, `{ workflowDefinitions(where:{packRef:"flows"}){ totalCount } }`, nil, &defs)
		require.Equal(t, 1, defs.WorkflowDefinitions.TotalCount, "workflows/cleanup.yaml")
		for _, f := range []string{"actions/chains/chain.yaml", "actions/workflows/deploy.workflow.yaml", "actions/workflows/orq.yaml"} {
			_, err := os.Stat(filepath.Join(versionDir(t, data, "flows"), f))
			require.NoError(t, err, "the engine finds %s under the pack's path", f)
		}
	})
}
