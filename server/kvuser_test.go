package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
)

// kvUserPack is a StackStorm-style pack whose parameter defaults read the
// requester: st2kv.user keys and action_context.user / api_user; a rule and
// an Orquesta workflow run its action.
func kvUserPack(t *testing.T) string {
	t.Helper()
	return writeTree(t, map[string]string{
		"pack.yaml": "ref: kvu\nversion: 1.0.0\n",
		"actions/hello.yaml": `name: hello
runner_type: local-shell-cmd
parameters:
  greeting: {type: string, default: "{{ st2kv.user.greeting }}"}
  who: {type: string, default: "{{ action_context.user }}"}
  api: {type: string, default: "{{ action_context.api_user }}"}
  cmd: {type: string, default: "echo g={{ greeting }} u={{ who }} a={{ api }}"}
`,
		"actions/vault.yaml": `name: vault
runner_type: local-shell-cmd
parameters:
  cmd: {type: string, default: "echo pw={{ st2kv.user.pw | decrypt_kv }}"}
`,
		"actions/flow.yaml": "name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\n",
		"actions/workflows/flow.yaml": `version: 1.0
output:
  - who: <% ctx().st2.user %>
  - kv: <% st2kv('greeting') %>
tasks:
  greet:
    action: kvu.hello
`,
		"actions/fails.yaml": `name: fails
runner_type: local-shell-cmd
parameters:
  cmd: {type: string, default: "echo u={{ action_context.user }}; exit 1"}
`,
		"policies/fails_retry.yaml": `name: fails.retry
resource_ref: kvu.fails
policy_type: action.retry
parameters: {retry_on: failure, max_retry_count: 1, delay: 0}
`,
		"rules/on_hook.yaml": `name: on_hook
pack: kvu
trigger:
  type: core.webhook
criteria:
  trigger.kind: {type: equals, pattern: kvu}
action:
  ref: kvu.hello
`,
	})
}

// TestSt2kvUserIsTheRequester: an execution records who requested it
// (requestedBy: the token's name; "system" for a rule; a workflow's tasks
// its requester), and a StackStorm action's templates read that user's
// st2kv.user keys (a secret through decrypt_kv, redacted from the output)
// and action_context.user / api_user.
func TestSt2kvUserIsTheRequester(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, authEnv(), "-database-url", dbtest.URL(t, backend))
		admin := client(s, testAdminToken)
		admin.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`, map[string]any{"s": kvUserPack(t)}, nil)
		aliceToken := newToken(t, admin, "alice", "EDITOR", nil)
		bobToken := newToken(t, admin, "bob", "EDITOR", nil)
		alice, bob := client(s, aliceToken), client(s, bobToken)
		alice.Must(t, `mutation{ setKey(input:{name:"greeting", value:"hi-from-alice", scope:USER}){ name } }`, nil, nil)
		alice.Must(t, `mutation{ setKey(input:{name:"pw", value:"alice-pw-9137", secret:true, scope:USER}){ name } }`, nil, nil)
		bob.Must(t, `mutation{ setKey(input:{name:"greeting", value:"hi-from-bob", scope:USER}){ name } }`, nil, nil)
		admin.Must(t, `mutation{ setKey(input:{name:"greeting", value:"hi-from-system-scope"}){ name } }`, nil, nil)

		type shown struct {
			Status, Stdout, Error, RequestedBy string
			Parameters                         map[string]any
			Result                             json.RawMessage
			Children                           struct {
				Edges []struct {
					Node struct{ RequestedBy, Stdout, Status string }
				}
			}
		}
		get := func(c *gqltest.Client, id string) shown {
			var out struct{ Node shown }
			c.Must(t, `query($id:ID!){ node(id:$id){ ... on Execution { status stdout error requestedBy parameters result
				children{ edges{ node{ requestedBy stdout status } } } } } }`, map[string]any{"id": id}, &out)
			return out.Node
		}
		run := func(token, ref string) shown {
			s.token = token
			id := execute(t, s, ref, nil)
			follow(t, s, id)
			return get(client(s, token), id)
		}

		got := run(aliceToken, "kvu.hello")
		require.Equal(t, "SUCCEEDED", got.Status, got.Error)
		require.Equal(t, "alice", got.RequestedBy)
		require.Equal(t, "g=hi-from-alice u=alice a=alice\n", got.Stdout)
		require.Equal(t, "hi-from-alice", got.Parameters["greeting"])
		require.Equal(t, "alice", got.Parameters["who"])

		got = run(bobToken, "kvu.hello")
		require.Equal(t, "SUCCEEDED", got.Status, got.Error)
		require.Equal(t, "bob", got.RequestedBy)
		require.Equal(t, "g=hi-from-bob u=bob a=bob\n", got.Stdout, "bob reads his own key")

		// A user's secret opens through decrypt_kv; the output hides it.
		got = run(aliceToken, "kvu.vault")
		require.Equal(t, "SUCCEEDED", got.Status, got.Error)
		require.Equal(t, "pw=********\n", got.Stdout)
		require.Equal(t, "********", got.Parameters["cmd"])
		got = run(bobToken, "kvu.vault")
		require.Equal(t, "FAILED", got.Status, "bob has no pw key")

		// A workflow's tasks run as its requester; ctx().st2.user is it and
		// st2kv('greeting') reads its key.
		got = run(bobToken, "kvu.flow")
		require.Equal(t, "SUCCEEDED", got.Status, got.Error)
		require.Equal(t, "bob", got.RequestedBy)
		var res struct{ Output map[string]any }
		require.NoError(t, json.Unmarshal(got.Result, &res), string(got.Result))
		require.Equal(t, map[string]any{"who": "bob", "kv": "hi-from-bob"}, res.Output)
		require.Len(t, got.Children.Edges, 1)
		require.Equal(t, "bob", got.Children.Edges[0].Node.RequestedBy)
		require.Equal(t, "g=hi-from-bob u=bob a=bob\n", got.Children.Edges[0].Node.Stdout)

		// A policy's retry keeps the original's requester; a re-run's is
		// whoever asked for it.
		s.token = bobToken
		failed := execute(t, s, "kvu.fails", nil)
		follow(t, s, failed)
		var retries struct {
			Executions struct {
				Edges []struct {
					Node struct{ ID, Status, RequestedBy, Stdout string }
				}
			}
		}
		eventually(t, execDeadline, "the retry to end", func() bool {
			bob.Must(t, `query($id: ID!) { executions(where: {retryOfID: $id}) { edges { node { id status requestedBy stdout } } } }`,
				map[string]any{"id": failed}, &retries)
			return len(retries.Executions.Edges) == 1 && retries.Executions.Edges[0].Node.Status == "FAILED"
		})
		require.Equal(t, "bob", retries.Executions.Edges[0].Node.RequestedBy)
		require.Equal(t, "u=bob\n", retries.Executions.Edges[0].Node.Stdout)
		var rerun struct {
			RerunExecution struct{ ID, RequestedBy string }
		}
		alice.Must(t, `mutation($id: ID!) { rerunExecution(input: {id: $id}) { id requestedBy } }`, map[string]any{"id": failed}, &rerun)
		require.Equal(t, "alice", rerun.RerunExecution.RequestedBy)
		// (It runs the original's parameters as they were rendered: cmd
		// still says bob.)

		// A rule's run is the system's: it has no user-scoped keys here.
		admin.Must(t, `mutation($p: JSON){ emitEvent(input:{trigger:"core.webhook", payload:$p}){ event{ id } } }`,
			map[string]any{"p": map[string]any{"kind": "kvu"}}, nil)
		var execID string
		eventually(t, execDeadline, "the rule's execution", func() bool {
			var out struct {
				Rule struct {
					Enforcements struct {
						Edges []struct {
							Node struct{ Execution *struct{ ID string } }
						}
					}
				}
			}
			admin.Must(t, `{ rule(ref:"kvu.on_hook"){ enforcements{ edges{ node{ execution{ id } } } } } }`, nil, &out)
			if len(out.Rule.Enforcements.Edges) == 0 || out.Rule.Enforcements.Edges[0].Node.Execution == nil {
				return false
			}
			execID = out.Rule.Enforcements.Edges[0].Node.Execution.ID
			return true
		})
		s.token = testAdminToken
		follow(t, s, execID)
		got = get(admin, execID)
		require.Equal(t, "SUCCEEDED", got.Status, got.Error)
		require.Equal(t, "system", got.RequestedBy)
		require.Equal(t, "g= u=system a=system\n", got.Stdout)

		// A run from the CLI is its token's; execution get shows it.
		env := []string{"ATTUNE_TOKEN=" + aliceToken}
		r := ok(t, s, env, "run", "kvu.hello")
		require.Equal(t, "g=hi-from-alice u=alice a=alice\n", r.stdout)
		s.token = bobToken
		r = ok(t, s, env, "execution", "get", execute(t, s, "kvu.hello", nil), "-o", "json")
		var cli map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &cli), r.stdout)
		require.Equal(t, "bob", cli["requestedBy"])
	})
}
