package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/gqltest"
)

// kvPack has an action with a secret parameter and a default read from the
// keystore; it reports what it received without printing the secret.
func kvPack(t *testing.T) string {
	t.Helper()
	return writeTree(t, map[string]string{
		"pack.yaml": "ref: kv\nversion: 1.0.0\nconf_schema:\n  api_key: {type: string, secret: true}\n  zone: {type: string}\nconfig:\n  api_key: cfg-secret-987\n  zone: z1\n",
		"actions/show.yaml": `runner_type: python
entry_point: show.py
parameters:
  message: {type: string}
  token: {type: string, secret: true}
  region: {type: string, default: "{{ keystore.region }}"}
`,
		"actions/show.py": `import json, sys
p = json.loads(sys.stdin.readline())
print(json.dumps({"message": p.get("message"), "region": p.get("region"),
                  "token_ok": p.get("token") == "tok-plain-xyz-123"}))
`,
	})
}

// TestKeystoreInRulesAndDefaults: rules read keys with {{ keystore.x }} and
// {{ st2kv.system.x }}, action defaults too; a secret key (or a pack config
// field marked secret) reaches only a parameter declared secret, and is
// redacted wherever it is stored or read back.
func TestKeystoreInRulesAndDefaults(t *testing.T) {
	t.Parallel()
	s := startServer(t, []string{"ATTUNE_ENCRYPTION_KEY=" + testEncKey})
	gql := gqltest.New(s.url + "/graphql")
	gql.Must(t, `mutation{ a: setKey(input:{name:"region", value:"eu"}){ name }
		b: setKey(input:{name:"api_token", value:"tok-plain-xyz-123", secret:true}){ name } }`, nil, nil)
	gql.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`, map[string]any{"s": kvPack(t)}, nil)
	rule := func(ref string, params map[string]any) {
		gql.Must(t, `mutation($in: CreateRuleInput!) { createRule(input: $in) { rule { ref } } }`, map[string]any{"in": map[string]any{
			"ref": ref, "trigger": "core.webhook", "action": "kv.show", "actionParams": params,
			"criteria": map[string]any{"trigger.rule": map[string]any{"type": "equals", "pattern": ref}},
		}}, nil)
	}
	rule("ops.good", map[string]any{"message": "{{ st2kv.system.region }}", "token": "{{ keystore.api_token }}"})
	rule("ops.leaky", map[string]any{"message": "{{ keystore.api_token }}"})
	rule("ops.cfgleak", map[string]any{"message": "{{ pack.config.api_key }}"})
	for _, ref := range []string{"ops.good", "ops.leaky", "ops.cfgleak"} {
		gql.Must(t, `mutation($p: JSON){ emitEvent(input:{trigger:"core.webhook", payload:$p}){ event{ id } } }`,
			map[string]any{"p": map[string]any{"rule": ref}}, nil)
	}
	type enf struct {
		Status, Reason string
		Parameters     map[string]any
		Execution      *struct{ ID string }
	}
	enforcement := func(ref string) enf {
		var got enf
		eventually(t, execDeadline, ref+"'s enforcement", func() bool {
			var out struct {
				Rule struct {
					Enforcements struct{ Edges []struct{ Node enf } }
				}
			}
			gql.Must(t, `query($r:String!){ rule(ref:$r){ enforcements{ edges{ node{ status reason parameters execution{ id } } } } } }`,
				map[string]any{"r": ref}, &out)
			if len(out.Rule.Enforcements.Edges) == 0 {
				return false
			}
			got = out.Rule.Enforcements.Edges[0].Node
			return true
		})
		return got
	}
	for _, ref := range []string{"ops.leaky", "ops.cfgleak"} {
		leaky := enforcement(ref)
		require.Equal(t, "FAILED", leaky.Status, ref)
		require.Contains(t, leaky.Reason, "may only flow into a parameter declared secret", ref)
		require.Nil(t, leaky.Execution, ref)
	}
	var pk struct {
		Pack struct{ Config map[string]any }
	}
	gql.Must(t, `{ pack(ref:"kv"){ config } }`, nil, &pk)
	require.Equal(t, map[string]any{"api_key": "********", "zone": "z1"}, pk.Pack.Config)

	good := enforcement("ops.good")
	require.Equal(t, "PROCESSED", good.Status, good.Reason)
	require.Equal(t, "********", good.Parameters["token"], "stored redacted")
	states := follow(t, s, good.Execution.ID)
	last := states[len(states)-1]
	require.Equal(t, "SUCCEEDED", last.Status, last.Error)
	require.JSONEq(t, `{"message":"eu","region":"eu","token_ok":true}`, string(last.Result))
	require.NotContains(t, s.out.String(), "tok-plain-xyz-123")
	require.NotContains(t, s.out.String(), "cfg-secret-987")
}
