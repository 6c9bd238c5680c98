package main

import (
	"encoding/json"
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
					Status string
					Tasks  []struct {
						Name      string
						Status    string
						ItemIndex *int
					}
				}
			}
		}
		gql.Must(t, `query($id: ID!) { node(id: $id) { ... on Execution { status error result
			workflow { status tasks { name status itemIndex } } } } }`, map[string]any{"id": id}, &got)
		require.Equal(t, "SUCCEEDED", got.Node.Status, "%+v %s", got, got.Node.Result)
		require.JSONEq(t, `{"output": {"said": "hello attune", "items": ["item 1", "item 2", "item 3"]}}`, string(got.Node.Result))
		require.Len(t, got.Node.Workflow.Tasks, 4)
		require.Equal(t, "one", got.Node.Workflow.Tasks[0].Name)
	})
}
