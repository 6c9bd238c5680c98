package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
)

// TestStackStormShellActions installs a pack in StackStorm's format
// (server/testdata/st2shell) and runs its local-shell-script and
// local-shell-cmd actions through the API, on SQLite and PostgreSQL. The
// expected argv, result and status are what StackStorm's local runner
// gives, as read from its code: ShellRunnerMixin._get_script_args,
// action_db.serialize_positional_argument, ShellScriptAction.
// _get_script_arguments, and BaseLocalShellRunner._run for the result.
func TestStackStormShellActions(t *testing.T) {
	t.Parallel()
	src, err := filepath.Abs("testdata/st2shell")
	require.NoError(t, err)
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		c := client(s, s.token)
		var installed struct {
			InstallPack struct {
				Pack    struct{ Ref, Path string }
				Install struct{ Warnings []string }
			}
		}
		c.Must(t, `mutation($s: String!) { installPack(input: {source: $s}) { pack { ref path } install { warnings } } }`,
			map[string]any{"s": src}, &installed)
		require.Equal(t, "st2shell", installed.InstallPack.Pack.Ref)
		// StackStorm puts a secret argument in argv silently; attune says so.
		require.Len(t, installed.InstallPack.Install.Warnings, 1)
		require.Contains(t, installed.InstallPack.Install.Warnings[0], "actions/args.yaml")
		require.Contains(t, installed.InstallPack.Install.Warnings[0], "secret parameter token is passed to the script on its command line")
		// The version's directory: <packs_dir>/<ref>/<checksum>.
		packDir := installed.InstallPack.Pack.Path
		require.Equal(t, filepath.Join(s.dir, "data", "packs", "st2shell"), filepath.Dir(packDir))

		type result struct {
			Stdout     json.RawMessage `json:"stdout"`
			Stderr     json.RawMessage `json:"stderr"`
			ReturnCode int             `json:"return_code"`
			Succeeded  bool            `json:"succeeded"`
			Failed     bool            `json:"failed"`
			Error      string          `json:"error"`
		}
		run := func(t *testing.T, ref string, params map[string]any) (finished, result) {
			t.Helper()
			got := runToEnd(t, s, ref, params)
			var r result
			require.NoError(t, json.Unmarshal(got.Result, &r), "%+v", got)
			return got, r
		}
		type given struct {
			Argv  []string `json:"argv"`
			Cwd   string   `json:"cwd"`
			MyVar *string  `json:"my_var"`
			Pack  string   `json:"st2_pack"`
			Stdin string   `json:"stdin"`
		}

		t.Run("greet.sh gets its positional arguments", func(t *testing.T) {
			t.Parallel()
			got, r := run(t, "st2shell.greet", map[string]any{"name": "StackStorm"})
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			require.Equal(t, "Hello, StackStorm!\n", got.Stdout)
			require.JSONEq(t, `"Hello, StackStorm!"`, string(r.Stdout), "one trailing newline is stripped")
			require.JSONEq(t, `""`, string(r.Stderr))
			require.Equal(t, 0, r.ReturnCode)
			require.True(t, r.Succeeded)
			require.False(t, r.Failed)
			got, _ = run(t, "st2shell.greet", map[string]any{"name": "ops", "greeting": "Good morning", "loud": true})
			require.Equal(t, "GOOD MORNING, OPS!\n", got.Stdout)
		})

		t.Run("every parameter convention", func(t *testing.T) {
			t.Parallel()
			got, r := run(t, "st2shell.args", map[string]any{
				"s": "it's \"q\" $(id) `x` a b", "n": 0, "b": true, "l": []any{"x", "y z", 1, true},
				"o": map[string]any{"k": "v", "n": 1}, "num": 2.5,
				"flag": true, "off": false, "text": "hello world $(id)", "empty": "", "count": 0,
				"tags": []any{"a", "b"}, "meta": map[string]any{"k": "v"}, "token": "s3cret",
				"cwd": "/tmp", "env": map[string]any{"MY_VAR": "from env", "ST2_ACTION_PACK_NAME": "not this"},
			})
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			var g given
			require.NoError(t, json.Unmarshal(r.Stdout, &g), "stdout that is JSON is decoded: %s", r.Stdout)
			require.Equal(t, []string{
				// Named, sorted: true flags bare, false/empty/absent left out,
				// lists and dicts as Python prints them, the secret redacted
				// in the stored result.
				"--count=0", "--flag", "--meta={'k': 'v'}", "--tags=['a', 'b']", "--text=hello world $(id)", "--token=********",
				// Positional, by position: integer 0 is falsy and empty (as in
				// StackStorm), booleans 1/0, lists comma-joined, objects as
				// JSON, absent ones empty, the default exit_code 0 empty too.
				"it's \"q\" $(id) `x` a b", "", "1", "x,y z,1,True", `{"k":"v","n":1}`, "", "2.5", "",
			}, g.Argv)
			require.Equal(t, "/tmp", g.Cwd)
			require.NotNil(t, g.MyVar)
			require.Equal(t, "from env", *g.MyVar)
			require.Equal(t, "st2shell", g.Pack, "StackStorm's own variables win over env")
			require.Empty(t, g.Stdin, "nothing on stdin")
			require.NotContains(t, got.Stdout, "s3cret")
		})

		t.Run("defaults: the script runs in the pack directory", func(t *testing.T) {
			t.Parallel()
			_, r := run(t, "st2shell.args", map[string]any{"s": "x"})
			var g given
			require.NoError(t, json.Unmarshal(r.Stdout, &g), string(r.Stdout))
			require.Equal(t, []string{"x", "", "", "", "", "", "", ""}, g.Argv)
			require.Equal(t, packDir, g.Cwd)
			require.Nil(t, g.MyVar)
		})

		t.Run("a non-zero exit fails with the local runner's result", func(t *testing.T) {
			t.Parallel()
			got, r := run(t, "st2shell.args", map[string]any{"exit_code": 3})
			require.Equal(t, "FAILED", got.Status, "%+v", got)
			require.Equal(t, 3, r.ReturnCode)
			require.True(t, r.Failed)
			require.False(t, r.Succeeded)
		})

		t.Run("local-shell-cmd runs the runner's cmd with env and cwd", func(t *testing.T) {
			t.Parallel()
			got, r := run(t, "st2shell.cmd", map[string]any{
				"cmd": `echo "$GREETING from $(pwd)"; echo oops >&2`, "env": map[string]any{"GREETING": "hi"}, "cwd": "/tmp",
			})
			require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
			require.JSONEq(t, `"hi from /tmp"`, string(r.Stdout))
			require.JSONEq(t, `"oops"`, string(r.Stderr))
			got, r = run(t, "st2shell.cmd", map[string]any{"cmd": `echo '{"a": [1, 2]}'; exit 4`})
			require.Equal(t, "FAILED", got.Status)
			require.JSONEq(t, `{"a": [1, 2]}`, string(r.Stdout), "JSON output is decoded, as StackStorm does")
			require.Equal(t, 4, r.ReturnCode)
		})

		t.Run("without cmd nothing runs", func(t *testing.T) {
			t.Parallel()
			got := runToEnd(t, s, "st2shell.cmd", nil)
			require.Equal(t, "FAILED", got.Status)
			require.Contains(t, got.Error, "Execution failed during preparation")
		})

		t.Run("a missing cwd or a bad env fails before starting", func(t *testing.T) {
			t.Parallel()
			got := runToEnd(t, s, "st2shell.cmd", map[string]any{"cmd": "true", "cwd": "/no/such/dir"})
			require.Equal(t, "FAILED", got.Status)
			require.Contains(t, got.Error, "Execution failed during preparation: working directory /no/such/dir (cwd) does not exist")
			got = runToEnd(t, s, "st2shell.cmd", map[string]any{"cmd": "true", "env": map[string]any{"A=B": "x"}})
			require.Equal(t, "FAILED", got.Status)
			require.Contains(t, got.Error, `Execution failed during preparation: env: "A=B" is not a valid environment variable name`)
		})

		t.Run("an immutable parameter keeps its default", func(t *testing.T) {
			t.Parallel()
			got, r := run(t, "st2shell.fixed", nil)
			require.Equal(t, "SUCCEEDED", got.Status)
			require.JSONEq(t, `"fixed"`, string(r.Stdout))
			e := c.Fail(t, `mutation { executeAction(input: {action: "st2shell.fixed", parameters: {cmd: "echo other"}}) { execution { id } } }`, nil)
			require.Equal(t, "BAD_USER_INPUT", e.Code())
			require.Contains(t, e.Message, "cmd: is immutable")
		})

		t.Run("core.local's sudo is immutable; core.local_sudo's is true", func(t *testing.T) {
			t.Parallel()
			e := c.Fail(t, `mutation { executeAction(input: {action: "core.local", parameters: {cmd: "id", sudo: true}}) { execution { id } } }`, nil)
			require.Equal(t, "BAD_USER_INPUT", e.Code())
			require.Contains(t, e.Message, "sudo: is immutable")
			e = c.Fail(t, `mutation { executeAction(input: {action: "core.local_sudo", parameters: {cmd: "id", sudo: false}}) { execution { id } } }`, nil)
			require.Equal(t, "BAD_USER_INPUT", e.Code())
		})

		t.Run("the timeout parameter bounds the run", func(t *testing.T) {
			t.Parallel()
			got, r := run(t, "st2shell.slow", nil)
			require.Equal(t, "TIMEOUT", got.Status, "%+v", got)
			require.Equal(t, -9, r.ReturnCode)
			require.Equal(t, "Action failed to complete in 1 seconds", r.Error)
			require.JSONEq(t, `"started"`, string(r.Stdout))
			got, r = run(t, "st2shell.cmd", map[string]any{"cmd": "sleep 30", "timeout": 1})
			require.Equal(t, "TIMEOUT", got.Status, "%+v", got)
			require.True(t, r.Failed)
		})
	})
}
