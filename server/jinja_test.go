package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
	"github.com/attune-io/attune/internal/store"
)

// templatePack is a StackStorm-style pack whose local-shell-cmd actions
// build their command from Jinja defaults: other parameters, st2kv keys
// (a dotted name, a secret through decrypt_kv) and the pack's config.
func templatePack(t *testing.T) string {
	t.Helper()
	return writeTree(t, map[string]string{
		"pack.yaml": "ref: tpl\nversion: 1.0.0\nconf_schema:\n  region: {type: string}\n  token: {type: string, secret: true}\n" +
			"config:\n  region: eu-west\n  token: cfg-tok-31337\n",
		"actions/cfgtok.yaml": `name: cfgtok
runner_type: local-shell-cmd
parameters:
  cmd: {type: string, default: "echo region={{ config_context.region }} token={{ config_context.token }}"}
`,
		"actions/ping.yaml": `name: ping
runner_type: local-shell-cmd
parameters:
  count: {type: integer, default: 2}
  host: {type: string, default: "{{ st2kv.system.hello_st2.target }}"}
  label: {type: string, default: "{{ config_context.region }}-{{ count }}"}
  cmd: {type: string, default: "echo {{ count }} {{ host }} {{ label }}"}
`,
		"actions/login.yaml": `name: login
runner_type: local-shell-cmd
parameters:
  user: {type: string, default: ops}
  cmd: {type: string, default: "echo {{ user }}:{{ st2kv.system.pw | decrypt_kv }}"}
`,
		"actions/vault.yaml": `name: vault
runner_type: local-shell-cmd
parameters:
  password: {type: string, secret: true, default: "{{ st2kv.system.pw | decrypt_kv }}"}
  cmd: {type: string, default: "echo len={{ password | length }} pw={{ password }}"}
`,
		"rules/on_hook.yaml": `name: on_hook
pack: tpl
description: a rule as StackStorm writes one, its parameters Jinja
trigger:
  type: core.webhook
criteria:
  trigger.kind: {type: equals, pattern: ping}
action:
  ref: tpl.ping
  parameters:
    host: "{{ trigger.host | upper ~ '-' ~ rule.ref }}"
    count: "{{ trigger.n }}"
`,
		"actions/loop.yaml": `name: loop
runner_type: local-shell-cmd
parameters:
  a: {type: string, default: "{{ b }}"}
  b: {type: string, default: "{{ a }}"}
  cmd: {type: string, default: "echo {{ a }}"}
`,
	})
}

// TestStackStormParameterTemplates: a local-shell-cmd action whose cmd
// default is `echo {{ count }} {{ host }}` runs the rendered command; the
// defaults see each other in dependency order, st2kv keys (dotted names,
// decrypt_kv) and config_context; a rendered "3" for an integer is 3 on
// the execution row; a template that fails, an unknown variable and a
// cycle end FAILED before the run with "Execution failed during
// preparation: …".
func TestStackStormParameterTemplates(t *testing.T) {
	t.Parallel()
	for _, backend := range dbtest.Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			url := dbtest.URL(t, backend)
			s := startServer(t, []string{"ATTUNE_ENCRYPTION_KEY=" + testEncKey}, "-database-url", url)
			gql := gqltest.New(s.url + "/graphql")
			gql.Must(t, `mutation{ setKey(input:{name:"pw", value:"s3cr3t-pw-4711", secret:true}){ name } }`, nil, nil)
			setDottedKey(t, url, "hello_st2.target", "db01")
			gql.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`, map[string]any{"s": templatePack(t)}, nil)

			run := func(ref string, params map[string]any) (executed, map[string]any, string) {
				id := execute(t, s, ref, params)
				states := follow(t, s, id)
				var out struct {
					Node struct {
						Parameters map[string]any
						Stdout     string
					}
				}
				gql.Must(t, `query($id:ID!){ node(id:$id){ ... on Execution { parameters stdout } } }`, map[string]any{"id": id}, &out)
				return states[len(states)-1], out.Node.Parameters, out.Node.Stdout
			}

			last, params, stdout := run("tpl.ping", nil)
			require.Equal(t, "SUCCEEDED", last.Status, last.Error)
			require.Equal(t, "2 db01 eu-west-2\n", stdout)
			require.Equal(t, "echo 2 db01 eu-west-2", params["cmd"], "the row shows the rendered command")
			require.Contains(t, string(last.Result), "2 db01 eu-west-2", "the result holds the rendered command's output")

			last, params, stdout = run("tpl.ping", map[string]any{"count": "{{ 1 + 2 }}", "host": "web"})
			require.Equal(t, "SUCCEEDED", last.Status, last.Error)
			require.Equal(t, "3 web eu-west-3\n", stdout)
			require.Equal(t, float64(3), params["count"], "a rendered integer is an integer")

			last, params, stdout = run("tpl.login", nil)
			require.Equal(t, "SUCCEEDED", last.Status, last.Error)
			require.Equal(t, "ops:********\n", stdout, "the decrypted secret is redacted from the output")
			require.Equal(t, "********", params["cmd"], "a command built from a secret is shown redacted")
			require.NotContains(t, s.out.String(), "s3cr3t-pw-4711")

			// A rule's parameters render with the action's: trigger and
			// rule in the context, "5" cast to the integer 5.
			gql.Must(t, `mutation($p: JSON){ emitEvent(input:{trigger:"core.webhook", payload:$p}){ event{ id } } }`,
				map[string]any{"p": map[string]any{"kind": "ping", "host": "web", "n": "5"}}, nil)
			var execID string
			eventually(t, execDeadline, "the rule's execution", func() bool {
				var out struct {
					Rule struct {
						Enforcements struct {
							Edges []struct {
								Node struct {
									Status, Reason string
									Execution      *struct{ ID string }
								}
							}
						}
					}
				}
				gql.Must(t, `{ rule(ref:"tpl.on_hook"){ enforcements{ edges{ node{ status reason execution{ id } } } } } }`, nil, &out)
				if len(out.Rule.Enforcements.Edges) == 0 {
					return false
				}
				n := out.Rule.Enforcements.Edges[0].Node
				require.Equal(t, "PROCESSED", n.Status, n.Reason)
				execID = n.Execution.ID
				return true
			})
			states := follow(t, s, execID)
			last = states[len(states)-1]
			require.Equal(t, "SUCCEEDED", last.Status, last.Error)
			require.Contains(t, string(last.Result), "5 WEB-tpl.on_hook eu-west-5")

			// A secret parameter's template waits sealed with the other
			// secrets and renders at the claim; what is built from it is
			// shown redacted.
			last, params, stdout = run("tpl.vault", nil)
			require.Equal(t, "SUCCEEDED", last.Status, last.Error)
			require.Equal(t, "len=14 pw=********\n", stdout)
			require.Equal(t, "********", params["password"])
			require.Equal(t, "********", params["cmd"])

			// A secret field of the pack's config is redacted likewise.
			last, params, stdout = run("tpl.cfgtok", nil)
			require.Equal(t, "SUCCEEDED", last.Status, last.Error)
			require.Equal(t, "region=eu-west token=********\n", stdout)
			require.Equal(t, "********", params["cmd"])
			require.NotContains(t, s.out.String(), "cfg-tok-31337")

			for _, c := range []struct {
				ref    string
				params map[string]any
				want   string
			}{
				{"tpl.ping", map[string]any{"host": "{{ nope }}"}, `Execution failed during preparation: Dependency unsatisfied in variable "nope"`},
				{"tpl.ping", map[string]any{"host": "{{ count | regex_substring('x') }}"}, `Execution failed during preparation: Failed to render parameter "host": `},
				{"tpl.ping", map[string]any{"count": "{{ 'many' }}"}, `Execution failed during preparation: Failed to cast parameter "count": invalid literal for int() with base 10: 'many'`},
				{"tpl.loop", nil, `Execution failed during preparation: Cyclic dependency found in the following variables: a, b. Likely the variable is referencing itself`},
			} {
				last, _, stdout := run(c.ref, c.params)
				require.Equal(t, "FAILED", last.Status, "%v", c.params)
				require.Contains(t, last.Error, c.want)
				require.Empty(t, stdout, "nothing ran")
			}
		})
	}
}

// setDottedKey stores a system key whose name has a dot, as StackStorm
// packs name theirs (hello_st2.count), straight in the database: the API's
// key names gain dots with the key-name change.
func setDottedKey(t *testing.T, url, name string, value any) {
	t.Helper()
	db, err := store.Open(t.Context(), url, "")
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Ent.Key.Create().SetName(name).SetPackRef("").SetValue(&value).Exec(t.Context()))
}
