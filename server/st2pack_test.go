package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	entpack "github.com/attune-io/attune/ent/pack"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
	"github.com/attune-io/attune/internal/store"
)

// Fixture packs of our own, written the way StackStorm packs are: pack.yaml
// with name, config.schema.yaml at the root, rules with trigger.type,
// trigger.parameters, criteria, action.ref and action.parameters.

// st2cfgPack has StackStorm's config schema (type, required, default,
// secret, nested properties) and a shell action that says whether the
// secret it is given is the one the operator configured, without printing
// it. version and extra let a test upgrade it.
func st2cfgPack(t *testing.T, version, extraSchema string) string {
	t.Helper()
	return writeTree(t, map[string]string{
		"pack.yaml": "---\nname: st2cfg\ndescription: config fixture\nversion: \"" + version + "\"\nauthor: attune\nemail: dev@example.com\n",
		"config.schema.yaml": `---
api_url:
  description: "Base URL of the service"
  type: "string"
  default: "https://api.example.com"
  required: true
api_key:
  type: "string"
  secret: true
  required: true
retries:
  type: "integer"
  default: 3
auth:
  type: "object"
  required: true
  properties:
    user:
      type: "string"
      required: true
    password:
      type: "string"
      secret: true
    realm:
      type: "string"
      default: "corp"
` + extraSchema,
		"actions/whoami.yaml": "---\nname: whoami\nrunner_type: python-script\nentry_point: whoami.py\n",
		"actions/whoami.py": `from st2common.runners.base_action import Action


class WhoAmI(Action):
    def run(self):
        c = self.config
        return {"key_ok": c["api_key"] == "key-operator-77", "password_ok": c["auth"]["password"] == "pa55-operator",
                "user": c["auth"]["user"], "realm": c["auth"]["realm"], "retries": c["retries"], "api_url": c["api_url"]}
`,
		"actions/login.yaml": `---
name: login
runner_type: shell
entry_point: login.sh
parameters:
  user: {type: string, required: true}
  password: {type: string, secret: true, required: true}
`,
		"actions/login.sh": "#!/usr/bin/env bash\nexec python3 -c 'import json, sys; p = json.loads(sys.stdin.readline()); print(json.dumps({\"user\": p[\"user\"], \"password_ok\": p[\"password\"] == \"pa55-operator\"}))'\n",
		"rules/login.yaml": `---
name: login_on_hook
pack: st2cfg
enabled: true
trigger:
  type: core.webhook
criteria:
  trigger.do:
    type: equals
    pattern: login
action:
  ref: st2cfg.login
  parameters:
    user: "{{ config_context.auth.user }}@{{ config_context.auth.realm }}"
    password: "{{ config_context.auth.password }}"
`,
	})
}

// TestPackConfigAsStackStorm: config.schema.yaml is read at install,
// configs/<pack>.yaml beside the packs directory supplies the operator's
// values, setPackConfig checks them against the schema (every field in one
// BAD_USER_INPUT), secrets are sealed at rest and shown to ADMIN only, rule
// templates see config_context with defaults, and an upgrade keeps the
// operator's values.
func TestPackConfigAsStackStorm(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		data := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(data, "configs"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(data, "configs", "st2cfg.yaml"), []byte(
			"---\napi_key: \"key-from-file-42\"\nauth:\n  user: deploy\n  password: \"pa55-file\"\n"), 0o600))
		dbURL := dbtest.URL(t, backend)
		s := startServer(t, authEnv(), "-data-dir", data, "-database-url", dbURL)
		admin := client(s, testAdminToken)

		var inst struct {
			InstallPack struct {
				Pack    struct{ Ref string }
				Install struct{ Warnings []string }
			}
		}
		admin.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } install{ warnings } } }`,
			map[string]any{"s": st2cfgPack(t, "1.0.0", "")}, &inst)
		require.Equal(t, "st2cfg", inst.InstallPack.Pack.Ref)
		require.Empty(t, inst.InstallPack.Install.Warnings)

		config := func(c *gqltest.Client, decrypt bool) map[string]any {
			var out struct {
				Pack struct {
					Config     map[string]any
					ConfSchema map[string]any
				}
			}
			c.Must(t, `query($d:Boolean){ pack(ref:"st2cfg"){ config(decrypt:$d) confSchema } }`, map[string]any{"d": decrypt}, &out)
			require.Contains(t, out.Pack.ConfSchema, "auth", "config.schema.yaml is the pack's schema")
			return out.Pack.Config
		}
		// The file's values, the schema's defaults (nested ones too).
		require.Equal(t, map[string]any{
			"api_url": "https://api.example.com", "api_key": "key-from-file-42", "retries": float64(3),
			"auth": map[string]any{"user": "deploy", "password": "pa55-file", "realm": "corp"},
		}, config(admin, true))
		masked := map[string]any{
			"api_url": "https://api.example.com", "api_key": "********", "retries": float64(3),
			"auth": map[string]any{"user": "deploy", "password": "********", "realm": "corp"},
		}
		require.Equal(t, masked, config(admin, false))
		viewer := client(s, newToken(t, admin, "viewer", "VIEWER", nil))
		require.Equal(t, masked, config(viewer, false))
		e := viewer.Fail(t, `{ pack(ref:"st2cfg"){ config(decrypt:true) } }`, nil)
		require.Equal(t, "FORBIDDEN", e.Code())

		// Every field that does not fit, at once.
		e = admin.Fail(t, `mutation($c:JSON!){ setPackConfig(input:{pack:"st2cfg", config:$c}){ ref } }`,
			map[string]any{"c": map[string]any{"retries": "three", "auth": map[string]any{"password": 7}}})
		require.Equal(t, "BAD_USER_INPUT", e.Code())
		var fields []struct{ Field, Message string }
		raw, _ := json.Marshal(e.Extensions["fields"])
		require.NoError(t, json.Unmarshal(raw, &fields))
		got := map[string]string{}
		for _, f := range fields {
			got[f.Field] = f.Message
		}
		require.Equal(t, map[string]string{
			"api_key": "is required", "retries": "must be an integer",
			"auth.user": "is required", "auth.password": "must be a string",
		}, got)
		e = admin.Fail(t, `mutation{ setPackConfig(input:{pack:"nope", config:{}}){ ref } }`, nil)
		require.Equal(t, "NOT_FOUND", e.Code())
		e = viewer.Fail(t, `mutation{ setPackConfig(input:{pack:"st2cfg", config:{}}){ ref } }`, nil)
		require.Equal(t, "FORBIDDEN", e.Code())
		editor := client(s, newToken(t, admin, "editor", "EDITOR", nil))
		e = editor.Fail(t, `mutation{ setPackConfig(input:{pack:"st2cfg", config:{}}){ ref } }`, nil)
		require.Equal(t, "BAD_USER_INPUT", e.Code(), "an EDITOR may set configs; this one lacks required fields")

		admin.Must(t, `mutation($c:JSON!){ setPackConfig(input:{pack:"st2cfg", config:$c}){ ref } }`,
			map[string]any{"c": map[string]any{"api_key": "key-operator-77", "retries": 5, "extra": "kept",
				"auth": map[string]any{"user": "ops", "password": "pa55-operator"}}}, nil)

		// A python-script action's self.config: secrets opened, defaults in.
		s.token = testAdminToken
		ran := runSt2(t, s, "st2cfg.whoami", nil)
		require.Equal(t, "SUCCEEDED", ran.Status, "%+v", ran)
		require.JSONEq(t, `{"key_ok":true,"password_ok":true,"user":"ops","realm":"corp","retries":5,"api_url":"https://api.example.com"}`,
			string(ran.Shape.Result))

		// A masked config read back and sent again (as a form does) keeps
		// its secrets: the mask is never stored as a secret's value.
		roundTrip := map[string]any{"api_key": config(admin, false)["api_key"], "retries": 5, "extra": "kept",
			"auth": map[string]any{"user": "ops", "password": "********"}}
		require.Equal(t, "********", roundTrip["api_key"])
		admin.Must(t, `mutation($c:JSON!){ setPackConfig(input:{pack:"st2cfg", config:$c}){ ref } }`, map[string]any{"c": roundTrip}, nil)
		ran = runSt2(t, s, "st2cfg.whoami", nil)
		require.Equal(t, "SUCCEEDED", ran.Status, "%+v", ran)
		require.JSONEq(t, `{"key_ok":true,"password_ok":true,"user":"ops","realm":"corp","retries":5,"api_url":"https://api.example.com"}`,
			string(ran.Shape.Result))

		// The audit trail records the mutation with its secrets masked.
		var audit struct {
			AuditEvents struct {
				Edges []struct {
					Node struct {
						Operation string
						Variables map[string]any
					}
				}
			}
		}
		admin.Must(t, `{ auditEvents(first: 100){ edges{ node{ operation variables } } } }`, nil, &audit)
		var audited []map[string]any
		for _, e := range audit.AuditEvents.Edges {
			if e.Node.Operation == "setPackConfig" {
				audited = append(audited, e.Node.Variables)
			}
		}
		require.NotEmpty(t, audited)
		var db *store.DB
		rawAudit, err := json.Marshal(audited)
		require.NoError(t, err)
		require.NotContains(t, string(rawAudit), "pa55-operator")
		require.NotContains(t, string(rawAudit), "key-operator-77")
		require.Contains(t, string(rawAudit), `"user":"ops"`)

		// At rest the secrets are sealed: neither column holds them.
		db, err = store.Open(t.Context(), dbURL, "")
		require.NoError(t, err)
		defer db.Close()
		row, err := db.Ent.Pack.Query().Where(entpack.Ref("st2cfg")).Only(t.Context())
		require.NoError(t, err)
		require.NotContains(t, row.Config, "api_key")
		require.Equal(t, map[string]any{"user": "ops"}, row.Config["auth"])
		require.NotEmpty(t, row.ConfigSecrets)
		require.NotContains(t, row.ConfigSecrets, "key-operator-77")
		require.NotContains(t, row.ConfigSecrets, "pa55-operator")

		// A rule's templates see config_context: defaults and secrets, the
		// secret only in a parameter declared secret.
		admin.Must(t, `mutation{ emitEvent(input:{trigger:"core.webhook", payload:{do:"login"}}){ event{ id } } }`, nil, nil)
		status, result := ruleExecution(t, admin, "st2cfg.login_on_hook")
		require.Equal(t, "SUCCEEDED", status)
		require.JSONEq(t, `{"user":"ops@corp","password_ok":true}`, resultStdout(t, result))

		// An upgrade (a new field with a default) keeps the operator's values.
		admin.Must(t, `mutation($s:String!){ installPack(input:{source:$s, force:true}){ pack{ version } } }`,
			map[string]any{"s": st2cfgPack(t, "1.1.0", "region:\n  type: \"string\"\n  default: \"eu-1\"\n")}, nil)
		after := config(admin, true)
		require.Equal(t, "key-operator-77", after["api_key"])
		require.Equal(t, float64(5), after["retries"])
		require.Equal(t, "kept", after["extra"])
		require.Equal(t, "eu-1", after["region"])
		require.Equal(t, map[string]any{"user": "ops", "password": "pa55-operator", "realm": "corp"}, after["auth"])

		// An operator who edits configs/<pack>.yaml sees it applied at the
		// next install.
		require.NoError(t, os.WriteFile(filepath.Join(data, "configs", "st2cfg.yaml"), []byte(
			"---\napi_key: \"key-file-2\"\nretries: 9\nauth:\n  user: deploy2\n  password: \"pa55-file-2\"\n"), 0o600))
		admin.Must(t, `mutation($s:String!){ installPack(input:{source:$s, force:true}){ pack{ version } } }`,
			map[string]any{"s": st2cfgPack(t, "1.1.0", "region:\n  type: \"string\"\n  default: \"eu-1\"\n")}, nil)
		after = config(admin, true)
		require.Equal(t, "key-file-2", after["api_key"])
		require.Equal(t, float64(9), after["retries"])
		require.Equal(t, "kept", after["extra"])
		require.Equal(t, map[string]any{"user": "deploy2", "password": "pa55-file-2", "realm": "corp"}, after["auth"])
		require.NotContains(t, s.out.String(), "pa55-operator")
		require.NotContains(t, s.out.String(), "key-operator-77")
	})
}

// ruleExecution waits for the rule's first enforcement to start an
// execution and that execution to finish; it returns its status and result.
func ruleExecution(t *testing.T, c *gqltest.Client, ref string) (string, json.RawMessage) {
	t.Helper()
	var execID string
	eventually(t, execDeadline, ref+"'s enforcement", func() bool {
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
		c.Must(t, `query($r:String!){ rule(ref:$r){ enforcements{ edges{ node{ status reason execution{ id } } } } } }`,
			map[string]any{"r": ref}, &out)
		if len(out.Rule.Enforcements.Edges) == 0 {
			return false
		}
		n := out.Rule.Enforcements.Edges[0].Node
		require.NotNil(t, n.Execution, "enforcement %s: %s", n.Status, n.Reason)
		execID = n.Execution.ID
		return true
	})
	var status string
	var result json.RawMessage
	eventually(t, execDeadline, "execution "+execID, func() bool {
		var out struct {
			Node struct {
				Status, Error string
				Result        json.RawMessage
			}
		}
		c.Must(t, `query($id:ID!){ node(id:$id){ ... on Execution { status error result } } }`, map[string]any{"id": execID}, &out)
		status, result = out.Node.Status, out.Node.Result
		switch status {
		case "SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELED", "ABANDONED":
			return true
		}
		return false
	})
	return status, result
}

// resultStdout is what an attune shell action printed: its result is the
// JSON it printed, or its stdout as a string.
func resultStdout(t *testing.T, result json.RawMessage) string {
	t.Helper()
	var text string
	if err := json.Unmarshal(result, &text); err == nil {
		return strings.TrimSpace(text)
	}
	var r struct{ Stdout string }
	if err := json.Unmarshal(result, &r); err == nil && r.Stdout != "" {
		return strings.TrimSpace(r.Stdout)
	}
	return strings.TrimSpace(string(result))
}

// TestRulesWaitForTheirPack: a StackStorm rule naming an action of a pack
// not installed yet is stored with its ref and no edge, reported as a
// warning; its enforcements are SKIPPED with the reason; when the pack
// arrives the edge is filled in and the rule runs. Its criteria use
// StackStorm's operators, "#" keys, search and a Jinja pattern reading a
// dotted key.
func TestRulesWaitForTheirPack(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, authEnv(), "-database-url", dbtest.URL(t, backend))
		admin := client(s, testAdminToken)
		admin.Must(t, `mutation{ setKey(input:{name:"watch.host", value:"web-01"}){ name } }`, nil, nil)
		rules := writeTree(t, map[string]string{
			"pack.yaml": "---\nname: st2rules\nversion: \"1.0.0\"\n",
			"rules/notify.yaml": `---
name: notify_chat
pack: st2rules
description: posts to chat through a pack installed later
enabled: true
trigger:
  type: core.webhook
criteria:
  trigger.kind:
    type: iequals
    pattern: ALERT
  trigger.severity#low:
    type: greaterthan
    pattern: 2
  trigger.severity#high:
    type: lessthan
    pattern: 9
  trigger.host:
    type: equals
    pattern: "{{ st2kv.system.watch.host }}"
  trigger.message:
    type: regex
    pattern: "disk (full|low)"
  trigger.tags:
    type: search
    condition: any
    pattern:
      item.name:
        type: startswith
        pattern: env
      item.value:
        type: inside
        pattern: [prod, staging]
  trigger.source:
    type: matchwildcard
    pattern: "mon-*"
  trigger.ignored:
    type: nexists
action:
  ref: chatops_later.post_message
  parameters:
    message: "{{ trigger.host }}: {{ trigger.message }}"
`,
		})
		var inst struct {
			InstallPack struct {
				Install struct {
					Status   string
					Warnings []string
				}
			}
		}
		admin.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ install{ status warnings } } }`,
			map[string]any{"s": rules}, &inst)
		require.Equal(t, "SUCCEEDED", inst.InstallPack.Install.Status)
		require.Len(t, inst.InstallPack.Install.Warnings, 1)
		require.Contains(t, inst.InstallPack.Install.Warnings[0], `action "chatops_later.post_message" is not installed`)

		type ruleView struct {
			ActionRef, TriggerRef string
			Action                *struct{ Ref string }
			Trigger               *struct{ Ref string }
			Enforcements          struct {
				Edges []struct {
					Node struct{ Status, Reason string }
				}
			}
		}
		rule := func() ruleView {
			var out struct{ Rule ruleView }
			admin.Must(t, `{ rule(ref:"st2rules.notify_chat"){ actionRef triggerRef action{ ref } trigger{ ref }
				enforcements{ edges{ node{ status reason } } } } }`, nil, &out)
			return out.Rule
		}
		r := rule()
		require.Equal(t, "chatops_later.post_message", r.ActionRef)
		require.Nil(t, r.Action)
		require.Equal(t, "core.webhook", r.Trigger.Ref)

		matching := map[string]any{"kind": "alert", "severity": 5, "host": "web-01", "message": "disk full on /var",
			"tags":   []any{map[string]any{"name": "team", "value": "ops"}, map[string]any{"name": "env", "value": "prod"}},
			"source": "mon-eu-3"}
		emit := func(p map[string]any) {
			admin.Must(t, `mutation($p:JSON){ emitEvent(input:{trigger:"core.webhook", payload:$p}){ event{ id } } }`,
				map[string]any{"p": p}, nil)
		}
		// Each of these breaks one criterion; none is enforced.
		for field, v := range map[string]any{"kind": "info", "severity": 9, "host": "db-01", "message": "cpu high",
			"tags": []any{map[string]any{"name": "env", "value": "dev"}}, "source": "app-1", "ignored": true} {
			p := map[string]any{}
			for k, val := range matching {
				p[k] = val
			}
			p[field] = v
			emit(p)
		}
		emit(matching)
		eventually(t, execDeadline, "the SKIPPED enforcement", func() bool { return len(rule().Enforcements.Edges) > 0 })
		r = rule()
		require.Len(t, r.Enforcements.Edges, 1, "only the matching event is enforced")
		require.Equal(t, "SKIPPED", r.Enforcements.Edges[0].Node.Status)
		require.Equal(t, "action chatops_later.post_message is not installed", r.Enforcements.Edges[0].Node.Reason)

		// The pack arrives: the edge is filled in and the rule runs.
		admin.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`, map[string]any{"s": writeTree(t, map[string]string{
			"pack.yaml": "---\nname: chatops_later\nversion: \"0.1.0\"\n",
			"actions/post_message.yaml": `---
name: post_message
runner_type: shell
entry_point: post.sh
parameters:
  message: {type: string, required: true}
`,
			"actions/post.sh": "#!/usr/bin/env bash\nexec python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())[\"message\"])'\n",
		})}, nil)
		r = rule()
		require.NotNil(t, r.Action, "the rule points at the action once its pack is installed")
		require.Equal(t, "chatops_later.post_message", r.Action.Ref)
		matching["message"] = "disk low on /home"
		emit(matching)
		var status string
		var result json.RawMessage
		eventually(t, execDeadline, "the second enforcement", func() bool { return len(rule().Enforcements.Edges) == 2 })
		var out struct {
			Rule struct {
				Enforcements struct {
					Edges []struct {
						Node struct {
							Status    string
							Execution *struct{ ID string }
						}
					}
				}
			}
		}
		admin.Must(t, `{ rule(ref:"st2rules.notify_chat"){ enforcements{ edges{ node{ status execution{ id } } } } } }`, nil, &out)
		var id string
		for _, edge := range out.Rule.Enforcements.Edges {
			if edge.Node.Execution != nil {
				require.Equal(t, "PROCESSED", edge.Node.Status)
				id = edge.Node.Execution.ID
			}
		}
		require.NotEmpty(t, id, "the second enforcement started an execution")
		eventually(t, execDeadline, "execution "+id, func() bool {
			var ex struct {
				Node struct {
					Status string
					Result json.RawMessage
				}
			}
			admin.Must(t, `query($id:ID!){ node(id:$id){ ... on Execution { status result } } }`, map[string]any{"id": id}, &ex)
			status, result = ex.Node.Status, ex.Node.Result
			return status == "SUCCEEDED" || status == "FAILED"
		})
		require.Equal(t, "SUCCEEDED", status, string(result))
		require.Equal(t, "web-01: disk low on /home", resultStdout(t, result))
	})
}

// TestKeysAsStackStormNamesThem: pack-scoped dotted names, user scope
// belonging to the token's identity, and TTLs.
func TestKeysAsStackStormNamesThem(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, authEnv(), "-database-url", dbtest.URL(t, backend))
		admin := client(s, testAdminToken)
		for _, name := range []string{"hello_st2.count", "a-b:c", "0day"} {
			admin.Must(t, `mutation($n:String!){ setKey(input:{name:$n, value:1}){ name } }`, map[string]any{"n": name}, nil)
		}
		e := admin.Fail(t, `mutation{ setKey(input:{name:"no spaces", value:1}){ name } }`, nil)
		require.Equal(t, "BAD_USER_INPUT", e.Code())

		// User scope: each identity has its own value under one name.
		alice := client(s, newToken(t, admin, "alice", "EDITOR", nil))
		bob := client(s, newToken(t, admin, "bob", "EDITOR", nil))
		alice.Must(t, `mutation{ setKey(input:{name:"session", value:"a", scope:USER}){ name user } }`, nil, nil)
		bob.Must(t, `mutation{ setKey(input:{name:"session", value:"b", scope:USER}){ name user } }`, nil, nil)
		read := func(c *gqltest.Client, scope string) (any, string) {
			var out struct {
				Key struct {
					Value any
					User  string
				}
			}
			resp := c.Do(t, `query($s:KeyScope){ key(name:"session", scope:$s){ value user } }`, map[string]any{"s": scope})
			if len(resp.Errors) > 0 {
				return nil, resp.Errors[0].Code()
			}
			require.NoError(t, json.Unmarshal(resp.Data, &out))
			return out.Key.Value, out.Key.User
		}
		v, user := read(alice, "USER")
		require.Equal(t, "a", v)
		require.Equal(t, "alice", user)
		v, user = read(bob, "USER")
		require.Equal(t, "b", v)
		require.Equal(t, "bob", user)
		_, code := read(alice, "SYSTEM")
		require.Equal(t, "NOT_FOUND", code, "user keys are not system keys")
		bob.Must(t, `mutation{ deleteKey(name:"session", scope:USER){ deletedRef } }`, nil, nil)
		v, _ = read(alice, "USER")
		require.Equal(t, "a", v, "deleting bob's key leaves alice's")

		// A TTL expires the key: reads stop returning it.
		var set struct {
			SetKey struct{ ExpiresAt *time.Time }
		}
		admin.Must(t, `mutation{ setKey(input:{name:"hello_st2.lock", value:true, ttl:2}){ expiresAt } }`, nil, &set)
		require.NotNil(t, set.SetKey.ExpiresAt)
		require.WithinDuration(t, time.Now().Add(2*time.Second), *set.SetKey.ExpiresAt, 5*time.Second)
		eventually(t, 15*time.Second, "the key to expire", func() bool {
			resp := admin.Do(t, `{ key(name:"hello_st2.lock"){ name } }`, nil)
			return len(resp.Errors) > 0 && resp.Errors[0].Code() == "NOT_FOUND"
		})
		var list struct{ Keys struct{ TotalCount int } }
		admin.Must(t, `{ keys(where:{name:"hello_st2.lock"}){ totalCount } }`, nil, &list)
		require.Zero(t, list.Keys.TotalCount, "lists skip expired keys too")
		// The name is free again.
		admin.Must(t, `mutation{ setKey(input:{name:"hello_st2.lock", value:false}){ name } }`, nil, nil)
	})
}

// TestValidationReportsEverythingAtOnce: runner, rule, sensor, config
// schema and configs-file problems of one pack come in one BAD_USER_INPUT.
func TestValidationReportsEverythingAtOnce(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		data := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(data, "configs"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(data, "configs", "broken.yaml"), []byte("limit: lots\n"), 0o600))
		s := startServer(t, authEnv(), "-data-dir", data, "-database-url", dbtest.URL(t, backend))
		admin := client(s, testAdminToken)
		src := writeTree(t, map[string]string{
			"pack.yaml":          "---\nname: broken\nversion: \"1.0.0\"\n",
			"config.schema.yaml": "limit:\n  type: integer\nmode:\n  type: strnig\n",
			"actions/a.yaml":     "---\nname: a\nrunner_type: frobnicator\nentry_point: a.sh\n",
			"actions/a.sh":       "#!/bin/sh\n",
			"rules/r.yaml": `---
name: r
trigger:
  type: core.webhook
criteria:
  trigger.x:
    type: frobnicate
    pattern: 1
action:
  ref: broken.a
`,
			"sensors/s.yaml": "---\nclass_name: S\nentry_point: s.sh\nrunner_type: shell\ntrigger_types: [broken.ghost]\n",
			"sensors/s.sh":   "#!/bin/sh\n",
		})
		e := admin.Fail(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`, map[string]any{"s": src})
		require.Equal(t, "BAD_USER_INPUT", e.Code())
		var probs []struct{ File, Field, Message string }
		raw, _ := json.Marshal(e.Extensions["problems"])
		require.NoError(t, json.Unmarshal(raw, &probs))
		files := map[string]bool{}
		for _, p := range probs {
			files[p.File] = true
		}
		require.Equal(t, map[string]bool{
			"actions/a.yaml": true, "rules/r.yaml": true, "sensors/s.yaml": true, "config.schema.yaml": true,
		}, files, "%+v", probs)
		require.Contains(t, e.Message, "frobnicator")
		require.Contains(t, e.Message, "frobnicate\"")
		require.Contains(t, e.Message, "broken.ghost")
		require.Contains(t, e.Message, "strnig")

		// With a valid schema, the operator's configs file is checked too.
		src = writeTree(t, map[string]string{
			"pack.yaml":          "---\nname: broken\nversion: \"1.0.0\"\n",
			"config.schema.yaml": "limit:\n  type: integer\n",
			"actions/a.yaml":     "---\nname: a\nrunner_type: frobnicator\nentry_point: a.sh\n",
			"actions/a.sh":       "#!/bin/sh\n",
		})
		e = admin.Fail(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`, map[string]any{"s": src})
		require.Equal(t, "BAD_USER_INPUT", e.Code())
		require.Contains(t, e.Message, "configs/broken.yaml")
		require.Contains(t, e.Message, "limit: must be an integer")
		require.Contains(t, e.Message, "frobnicator")
	})
}

// TestSensorsSeeThePackConfig: a sensor gets its pack's config as actions
// do, secrets opened and defaults applied.
func TestSensorsSeeThePackConfig(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, authEnv("ATTUNE_EVENTS_SENSOR_POLL=300ms"), "-database-url", dbtest.URL(t, backend))
		admin := client(s, testAdminToken)
		admin.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`, map[string]any{"s": writeTree(t, map[string]string{
			"pack.yaml":          "---\nname: sc\nversion: \"1.0.0\"\n",
			"config.schema.yaml": "token:\n  type: string\n  secret: true\n  required: true\nretries:\n  type: integer\n  default: 3\n",
			"triggers/seen.yaml": "---\nname: seen\n",
			"sensors/watch.yaml": "---\nname: watch\nrunner_type: shell\nentry_point: watch.sh\ntrigger_types: [sc.seen]\n",
			"sensors/watch.sh": `#!/usr/bin/env bash
read -r input
python3 -c 'import json, sys; c = json.loads(sys.argv[1])["config"]; print(json.dumps({"trigger": "sc.seen", "payload": {"token_ok": c.get("token") == "tok-sensor-5", "retries": c.get("retries")}}))' "$input"
exec sleep 600
`,
		})}, nil)
		admin.Must(t, `mutation{ setPackConfig(input:{pack:"sc", config:{token:"tok-sensor-5"}}){ ref } }`, nil, nil)
		admin.Must(t, `mutation($in: CreateRuleInput!) { createRule(input: $in) { rule { ref } } }`, map[string]any{"in": map[string]any{
			"ref": "sc.on_seen", "pack": "sc", "trigger": "sc.seen", "action": "core.noop",
		}}, nil)
		var payload map[string]any
		eventually(t, 30*time.Second, "the sensor's event", func() bool {
			var out struct {
				Events struct {
					Edges []struct {
						Node struct{ Payload map[string]any }
					}
				}
			}
			admin.Must(t, `{ events(where: {triggerRef: "sc.seen"}) { edges { node { payload } } } }`, nil, &out)
			if len(out.Events.Edges) == 0 {
				return false
			}
			payload = out.Events.Edges[0].Node.Payload
			return true
		})
		require.Equal(t, map[string]any{"token_ok": true, "retries": float64(3)}, payload)
		require.NotContains(t, s.out.String(), "tok-sensor-5")
	})
}
