package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
)

// st2Finished is an execution of a StackStorm python-script action, with
// its result in StackStorm's shape {result, stdout, stderr, exit_code}.
type st2Finished struct {
	finished
	Shape struct {
		Result   json.RawMessage `json:"result"`
		Stdout   string          `json:"stdout"`
		Stderr   string          `json:"stderr"`
		ExitCode int             `json:"exit_code"`
	}
	Keys []string
}

// runSt2 runs ref to its end and decodes its StackStorm-shaped result.
func runSt2(t *testing.T, s *server, ref string, params map[string]any) st2Finished {
	t.Helper()
	got := st2Finished{finished: runToEnd(t, s, ref, params)}
	var keys map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(got.Result, &keys), "result %s", got.Result)
	for k := range keys {
		got.Keys = append(got.Keys, k)
	}
	require.NoError(t, json.Unmarshal(got.Result, &got.Shape))
	return got
}

// installSt2Fixture installs the test's StackStorm pack through the API and
// gives it a config, as an operator would; its schema has a default.
func installSt2Fixture(t *testing.T, s *server) {
	t.Helper()
	installSt2Pack(t, s, "st2py_fixture", map[string]any{"region": "eu-west"})
}

// installSt2Pack installs testdata/st2packs/<ref> through the API (with
// s.token), expects its environment READY, and sets the pack's config with
// setPackConfig, checked against the pack's config.schema.yaml.
func installSt2Pack(t *testing.T, s *server, ref string, config map[string]any) {
	t.Helper()
	src, err := filepath.Abs(filepath.Join("testdata/st2packs", ref))
	require.NoError(t, err)
	var got struct {
		InstallPack struct {
			Pack struct{ Environment struct{ Status, Path string } }
		}
	}
	client(s, s.token).Must(t, `mutation($s:String!){ installPack(input:{source:$s}){
		pack{ environment{ status path } } } }`, map[string]any{"s": src}, &got)
	require.Equal(t, "READY", got.InstallPack.Pack.Environment.Status)
	// The schema is the pack's config.schema.yaml; the values the
	// operator's, through the API.
	client(s, s.token).Must(t, `mutation($p:String!, $c:JSON!){ setPackConfig(input:{pack:$p, config:$c}){ ref } }`,
		map[string]any{"p": ref, "c": config}, nil)
}

// TestStackStormPythonActions runs a StackStorm pack's python-script
// actions, unchanged, through the real server on both backends, and checks
// what StackStorm's Python runner gives: run(**parameters) with every
// declared parameter, the verdict of its return value, exceptions, the
// imports packs rely on, the pack's config and the key/value store.
func TestStackStormPythonActions(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		dbURL := dbtest.URL(t, backend)
		s := startServer(t, authEnv(), "-database-url", dbURL)
		s.token = testAdminToken
		admin := client(s, s.token)
		installSt2Fixture(t, s)

		t.Run("ParametersAndReturnValue", func(t *testing.T) {
			got := runSt2(t, s, "st2py_fixture.echo_params", map[string]any{
				"name": "Ada", "env": map[string]any{"MY_VAR": "from env"},
			})
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			require.ElementsMatch(t, []string{"result", "stdout", "stderr", "exit_code"}, got.Keys)
			require.Equal(t, 0, got.Shape.ExitCode)
			require.Equal(t, "printed by the action\n", got.Shape.Stdout)
			require.Contains(t, got.Shape.Stderr, "actions.python.EchoParams: INFO     logged by the action")
			var ret struct {
				Kwargs  map[string]any
				Message string
				EnvVar  string `json:"env_var"`
				Environ map[string]string
				Argv    []string
				SysArgv []string `json:"sys_argv"`
			}
			require.NoError(t, json.Unmarshal(got.Shape.Result, &ret))
			// Every declared parameter, None when absent without default;
			// none of the runner's (env, timeout, log_level, debug…).
			require.Equal(t, map[string]any{"name": "Ada", "greeting": "Hello", "count": nil, "flag": nil}, ret.Kwargs)
			require.Equal(t, "Hello, Ada!", ret.Message)
			require.Equal(t, "from env", ret.EnvVar, "the runner's env parameter")
			// The run's token is never in the environment or argv.
			for k, v := range ret.Environ {
				require.NotContains(t, v, "att_", "environment variable %s", k)
			}
			for _, a := range ret.Argv {
				require.NotContains(t, a, "att_")
			}
			require.Len(t, ret.SysArgv, 1)

			// The runner's timeout: 600 s by default, as StackStorm's.
			var runs struct {
				Executions struct {
					Edges []struct{ Node struct{ TimeoutSeconds int } }
				}
			}
			admin.Must(t, `{ executions(where:{actionRef:"st2py_fixture.echo_params"}) {
				edges { node { timeoutSeconds } } } }`, nil, &runs)
			require.Len(t, runs.Executions.Edges, 1)
			require.Equal(t, 600, runs.Executions.Edges[0].Node.TimeoutSeconds)
			require.True(t, strings.HasSuffix(ret.SysArgv[0], "/actions/echo_params.py"), ret.SysArgv[0])
		})

		t.Run("ParameterFile", func(t *testing.T) {
			got := runSt2(t, s, "st2py_fixture.echo_params_file", map[string]any{
				"name": "Bob", "secret_token": "tok-3141592653",
			})
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			var ret struct {
				Kwargs  map[string]any
				Lengths map[string]int
				Environ map[string]string
			}
			require.NoError(t, json.Unmarshal(got.Shape.Result, &ret))
			require.Equal(t, "Bob", ret.Kwargs["name"])
			// The secret reached run(), and is scrubbed from what is stored.
			require.Equal(t, "********", ret.Kwargs["secret_token"])
			require.Equal(t, len("tok-3141592653"), ret.Lengths["secret_token"])
			require.NotContains(t, string(got.Result), "tok-3141592653")
			require.NotContains(t, ret.Environ, "ATTUNE_PARAMETERS_FILE", "the wrapper read and forgot it")
		})

		t.Run("FalseStatusFails", func(t *testing.T) {
			got := runSt2(t, s, "st2py_fixture.fail_tuple", nil)
			require.Equal(t, "FAILED", got.Status, "%+v", got)
			require.JSONEq(t, `{"reason":"nope"}`, string(got.Shape.Result))
			require.Equal(t, 0, got.Shape.ExitCode)
			require.Contains(t, got.Shape.Stdout, "about to return a verdict\n")
			require.Contains(t, got.Shape.Stdout, `"result": "forged"`, "a forged verdict is only output")
			require.NotEmpty(t, got.Error)

			ok := runSt2(t, s, "st2py_fixture.fail_tuple", map[string]any{"ok": true})
			require.Equal(t, "SUCCEEDED", ok.Status, "%+v", ok)
			require.JSONEq(t, `["fine", 2]`, string(ok.Shape.Result))
			require.Empty(t, ok.Error)
		})

		t.Run("ExceptionFailsWithTraceback", func(t *testing.T) {
			got := runSt2(t, s, "st2py_fixture.raises", nil)
			require.Equal(t, "FAILED", got.Status, "%+v", got)
			require.Equal(t, "ValueError: boom: bad input", got.Error)
			require.Contains(t, got.Shape.Stderr, "Traceback (most recent call last):")
			require.Contains(t, got.Shape.Stderr, `in helper`)
			require.Equal(t, 1, got.Shape.ExitCode)
			require.JSONEq(t, `null`, string(got.Shape.Result))
			require.Equal(t, "before the exception\n", got.Shape.Stdout)
		})

		t.Run("StatusMustBeBool", func(t *testing.T) {
			got := runSt2(t, s, "st2py_fixture.bad_status", nil)
			require.Equal(t, "FAILED", got.Status, "%+v", got)
			require.Equal(t, 220, got.Shape.ExitCode)
			require.Contains(t, got.Error, "not True or False")
		})

		t.Run("ImportsLibsAndNoDemo", func(t *testing.T) {
			got := runSt2(t, s, "st2py_fixture.http", nil)
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			require.NotContains(t, got.Shape.Stdout, "DEMO BLOCK RAN")
			var ret map[string]any
			require.NoError(t, json.Unmarshal(got.Shape.Result, &ret))
			require.NotContains(t, ret["csv_file"], "/actions/", "the standard library's csv")
			require.Equal(t, "http.client", ret["http_client"])
			require.Equal(t, true, ret["six_py3"])
			require.Equal(t, "str", ret["text_type"])
			require.Equal(t, []any{0.0, 1.0, 2.0}, ret["range"])
			require.Equal(t, "example.invalid", ret["netloc"])
			require.Equal(t, true, ret["same_action"])
			require.Equal(t, "AB", ret["helper"])
			require.Equal(t, "pack lib", ret["pack_lib"])
		})

		t.Run("PackBaseClass", func(t *testing.T) {
			got := runSt2(t, s, "st2py_fixture.uses_base", nil)
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			require.JSONEq(t, `{"region": "eu-west", "has_service": true}`, string(got.Shape.Result))
		})

		t.Run("Config", func(t *testing.T) {
			got := runSt2(t, s, "st2py_fixture.show_config", nil)
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			var ret struct {
				Config  map[string]any
				Region  string
				Missing string
			}
			require.NoError(t, json.Unmarshal(got.Shape.Result, &ret))
			require.Equal(t, map[string]any{"region": "eu-west", "retries": 3.0}, ret.Config)
			require.Equal(t, "eu-west", ret.Region)
			require.Equal(t, `Config for pack "st2py_fixture" is missing key "missing".`, ret.Missing)
		})

		t.Run("ActionServiceKeys", func(t *testing.T) {
			admin.Must(t, `mutation { a: setKey(input:{name:"shared_setting", value:"system value"}){ name }
				b: setKey(input:{name:"shared_secret", value:"s3cr3t-value", secret:true}){ name } }`, nil, nil)
			got := runSt2(t, s, "st2py_fixture.kv", map[string]any{"phase": "write"})
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			var ret map[string]any
			require.NoError(t, json.Unmarshal(got.Shape.Result, &ret))
			require.Equal(t, true, ret["set"])
			require.Equal(t, "hi", ret["get"])
			require.Equal(t, "42", ret["counter"])
			require.Nil(t, ret["absent"])
			require.Equal(t, []any{"greeting"}, ret["list"])
			require.Equal(t, []any{"counter", "greeting"}, ret["list_all"])
			require.Equal(t, "system value", ret["system"])
			require.Equal(t, []any{[]any{"shared_secret", nil}, []any{"shared_setting", "system value"}}, ret["list_system"])
			require.Nil(t, ret["secret_hidden"], "a secret without decrypt")
			require.Equal(t, "s3cr3t-value", ret["secret"])
			require.Contains(t, ret["global_write"], "writes only keys of its pack")
			require.Equal(t, true, ret["ttl"])
			require.Equal(t, "soon gone", ret["ttl_get"])
			require.Equal(t, true, ret["lasting"])

			// What the action wrote is the pack's key, seen through the API.
			var key struct {
				Key struct {
					Value     any
					ExpiresAt *time.Time
				}
			}
			admin.Must(t, `{ key(name:"greeting", pack:"st2py_fixture"){ value expiresAt } }`, nil, &key)
			require.Equal(t, "hi", key.Key.Value)
			require.Nil(t, key.Key.ExpiresAt)
			admin.Must(t, `{ key(name:"lasting", pack:"st2py_fixture"){ value expiresAt } }`, nil, &key)
			require.Equal(t, "stays", key.Key.Value)
			require.NotNil(t, key.Key.ExpiresAt)
			require.WithinDuration(t, time.Now().Add(time.Hour), *key.Key.ExpiresAt, 5*time.Minute)
			// The key set with ttl=1 expires.
			eventually(t, 10*time.Second, "the key set with ttl=1 expires", func() bool {
				r := admin.Do(t, `{ key(name:"expiring", pack:"st2py_fixture"){ value } }`, nil)
				return len(r.Errors) > 0 && r.Errors[0].Code() == "NOT_FOUND"
			})

			got = runSt2(t, s, "st2py_fixture.kv", map[string]any{"phase": "delete"})
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			var deleted map[string]any
			require.NoError(t, json.Unmarshal(got.Shape.Result, &deleted))
			require.Equal(t, map[string]any{"delete": true, "get": nil, "delete_again": false}, deleted)
			gone := admin.Fail(t, `{ key(name:"greeting", pack:"st2py_fixture"){ value } }`, nil)
			require.Equal(t, "NOT_FOUND", gone.Code(), "%+v", gone)

			// The run's token ended with the run.
			var tokens struct {
				ApiTokens struct {
					Edges []struct{ Node struct{ Name string } }
				}
			}
			admin.Must(t, `{ apiTokens { edges { node { name } } } }`, nil, &tokens)
			for _, e := range tokens.ApiTokens.Edges {
				require.False(t, strings.HasPrefix(e.Node.Name, "execution "), "token %s outlived its run", e.Node.Name)
			}
		})

		t.Run("RunTokenReachesOnlyItsKeys", func(t *testing.T) {
			admin.Must(t, `mutation { setKey(input:{name:"k", value:"core's", pack:"core"}){ name } }`, nil, nil)
			got := runSt2(t, s, "st2py_fixture.reach", nil)
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			var ret map[string]any
			require.NoError(t, json.Unmarshal(got.Shape.Result, &ret))
			require.Equal(t, map[string]any{
				"read_packs":      "FORBIDDEN",
				"read_executions": "FORBIDDEN",
				"execute":         "FORBIDDEN",
				"other_pack_key":  "FORBIDDEN",
				"other_pack_set":  "FORBIDDEN",
				"create_token":    "FORBIDDEN",
				// The read policy shows it none of core's keys.
				"list_other_keys": map[string]any{"keys": map[string]any{"edges": []any{}}},
			}, ret)
		})

		t.Run("RunnerTimeout", func(t *testing.T) {
			got := runSt2(t, s, "st2py_fixture.slow", nil)
			require.Equal(t, "TIMEOUT", got.Status, "%+v", got)
			require.JSONEq(t, `null`, string(got.Shape.Result))
		})
	})
}
