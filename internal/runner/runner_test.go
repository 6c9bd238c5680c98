package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/runner"
)

const systemPython = "/usr/bin/python3"

// newPack writes files (name → body) into a fresh pack directory; files are
// executable unless their name ends in ".txt".
func newPack(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		mode := os.FileMode(0o755)
		if strings.HasSuffix(name, ".txt") {
			mode = 0o644
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), mode))
	}
	return dir
}

// withTestDefaults fills in a private TempDir and a safety timeout.
func withTestDefaults(t *testing.T, req runner.Request) runner.Request {
	t.Helper()
	if req.TempDir == "" {
		req.TempDir = t.TempDir()
	}
	if req.Timeout == 0 {
		req.Timeout = time.Minute
	}
	return req
}

// requireJSON compares a parsed result with the JSON text want.
func requireJSON(t *testing.T, want string, got any) {
	t.Helper()
	b, err := json.Marshal(got)
	require.NoError(t, err)
	require.JSONEq(t, want, string(b))
}

// gate returns a FIFO path that an action blocks on with `read _ < "$GATE"`
// and a function that lets it continue.
func gate(t *testing.T) (string, func()) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gate")
	require.NoError(t, syscall.Mkfifo(path, 0o600))
	return path, func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString("go\n")
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
}

// lines collects OnLine calls and forwards them to a channel.
func lines() (func(stream, line string), <-chan string) {
	ch := make(chan string, 1024)
	return func(stream, line string) { ch <- stream + ":" + line }, ch
}

func receive(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(30 * time.Second):
		require.FailNow(t, "no output line within 30s")
		return ""
	}
}

// requireGone waits until pid no longer exists (or is a zombie awaiting its
// new parent's reaping: it can no longer run).
func requireGone(t *testing.T, pid int) {
	t.Helper()
	require.Eventually(t, func() bool {
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			return true
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		return len(fields) > 0 && fields[0] == "Z"
	}, 10*time.Second, 10*time.Millisecond, "process %d still alive", pid)
}

func TestRunRunners(t *testing.T) {
	t.Parallel()
	const nodeOK = `let d = ""; process.stdin.on("data", c => d += c).on("end", () => {
  console.log("starting");
  console.log(JSON.stringify({hello: JSON.parse(d).name}));
});`
	tests := []struct {
		name       string
		req        runner.Request
		files      map[string]string
		wantCode   int
		wantResult string // JSON; empty means nil
		wantStdout string
		wantError  string
	}{
		{
			name:       "shell ok",
			req:        runner.Request{Runner: runner.Shell, EntryPoint: "actions/a.sh"},
			files:      map[string]string{"actions/a.sh": "read -r p\necho working\necho \"{\\\"got\\\": $p}\"\n"},
			wantResult: `{"got": {"name": "world"}}`,
		},
		{
			name:      "shell fails",
			req:       runner.Request{Runner: runner.Shell, EntryPoint: "a.sh"},
			files:     map[string]string{"a.sh": "echo one >&2\necho two >&2\nexit 3\n"},
			wantCode:  3,
			wantError: "one\ntwo",
		},
		{
			name:       "shell text result",
			req:        runner.Request{Runner: runner.Shell, EntryPoint: "a.sh"},
			files:      map[string]string{"a.sh": "echo hello world\n"},
			wantStdout: "hello world\n",
		},
		{
			name: "python ok",
			req:  runner.Request{Runner: runner.Python, EntryPoint: "a.py", Interpreter: systemPython},
			files: map[string]string{"a.py": "import json, os, sys\n" +
				"p = json.loads(sys.stdin.readline())\n" +
				"print(json.dumps({'hello': p['name'], 'unbuffered': os.environ['PYTHONUNBUFFERED']}))\n"},
			wantResult: `{"hello": "world", "unbuffered": "1"}`,
		},
		{
			name:      "python fails",
			req:       runner.Request{Runner: runner.Python, EntryPoint: "a.py", Interpreter: systemPython},
			files:     map[string]string{"a.py": "raise SystemExit('bad thing')\n"},
			wantCode:  1,
			wantError: "bad thing",
		},
		{
			name:       "node ok",
			req:        runner.Request{Runner: runner.Node, EntryPoint: "a.js"},
			files:      map[string]string{"a.js": nodeOK},
			wantResult: `{"hello": "world"}`,
		},
		{
			name:      "node fails",
			req:       runner.Request{Runner: runner.Node, EntryPoint: "a.js"},
			files:     map[string]string{"a.js": `console.error("node broke"); process.exit(4);`},
			wantCode:  4,
			wantError: "node broke",
		},
		{
			name:       "native ok",
			req:        runner.Request{Runner: runner.Native, EntryPoint: "bin/act"},
			files:      map[string]string{"bin/act": "#!/bin/sh\nread -r p\necho \"$p\"\n"},
			wantResult: `{"name": "world"}`,
		},
		{
			name:      "native fails",
			req:       runner.Request{Runner: runner.Native, EntryPoint: "bin/act"},
			files:     map[string]string{"bin/act": "#!/bin/sh\nexit 5\n"},
			wantCode:  5,
			wantError: "exit status 5",
		},
		{
			name: "local ok",
			req: runner.Request{Runner: runner.Local, Parameters: map[string]any{
				"cmd": `read -r p; echo "$p" | grep -q '"cmd"' && echo '{"n": 12345678901234567890}'`,
			}},
			wantResult: `{"n": 12345678901234567890}`,
		},
		{
			name:      "local fails",
			req:       runner.Request{Runner: runner.Local, Parameters: map[string]any{"cmd": "echo local broke >&2; exit 2"}},
			wantCode:  2,
			wantError: "local broke",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := tt.req
			req.PackDir = newPack(t, tt.files)
			if req.Parameters == nil {
				req.Parameters = map[string]any{"name": "world"}
			}
			res, err := runner.Run(t.Context(), withTestDefaults(t, req))
			require.NoError(t, err)
			require.Equal(t, tt.wantCode, res.ExitCode, "stderr: %s", res.Stderr)
			require.Equal(t, tt.wantError, res.Error)
			if tt.wantResult == "" {
				require.Nil(t, res.Result)
			} else {
				requireJSON(t, tt.wantResult, res.Result)
			}
			if tt.wantStdout != "" {
				require.Equal(t, tt.wantStdout, res.Stdout)
			}
			require.False(t, res.TimedOut || res.Canceled)
			require.Positive(t, res.PID)
			require.False(t, res.FinishedAt.Before(res.StartedAt))
		})
	}
}

func TestRunFileDelivery(t *testing.T) {
	t.Parallel()
	pack := newPack(t, map[string]string{"a.sh": `stat -c %a "$ATTUNE_PARAMETERS_FILE"
echo "$ATTUNE_PARAMETERS_FILE"
cat "$ATTUNE_PARAMETERS_FILE"; echo
wc -c   # stdin is empty under file delivery
`})
	res, err := runner.Run(t.Context(), withTestDefaults(t, runner.Request{
		Runner: runner.Shell, PackDir: pack, EntryPoint: "a.sh", Delivery: runner.DeliveryFile,
		Parameters: map[string]any{"name": "world"},
	}))
	require.NoError(t, err)
	out := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	require.Len(t, out, 4, res.Stdout)
	require.Equal(t, "400", out[0])
	require.NoFileExists(t, out[1])
	require.JSONEq(t, `{"name": "world"}`, out[2])
	require.Equal(t, "0", strings.TrimSpace(out[3]))
}

// TestRunIgnoresUnreadParameters: an action that exits without reading
// stdin breaks the pipe, which must not fail a successful run.
func TestRunIgnoresUnreadParameters(t *testing.T) {
	t.Parallel()
	res, err := runner.Run(t.Context(), withTestDefaults(t, runner.Request{
		Runner: runner.Shell, EntryPoint: "a.sh", PackDir: newPack(t, map[string]string{"a.sh": "exit 0\n"}),
		Parameters: map[string]any{"big": strings.Repeat("p", 4<<20)},
	}))
	require.NoError(t, err)
	require.Zero(t, res.ExitCode)
	require.Empty(t, res.Error)
}

// TestRunHidesParameters checks a running child's argv and environment, as
// `ps` would see them, for a secret parameter.
func TestRunHidesParameters(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-value-7f9a"
	tests := []struct {
		name    string
		req     runner.Request
		wantEnv []string // keys besides PATH, HOME, LANG, GATE
	}{
		{name: "stdin", req: runner.Request{Runner: runner.Shell, EntryPoint: "a.sh"}},
		{
			name:    "file",
			req:     runner.Request{Runner: runner.Shell, EntryPoint: "a.sh", Delivery: runner.DeliveryFile},
			wantEnv: []string{runner.ParametersFileEnv},
		},
		{
			name: "local",
			req: runner.Request{Runner: runner.Local, Parameters: map[string]any{
				"cmd": `echo $$; read _ < "$GATE"`, "token": secret,
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gatePath, release := gate(t)
			req := tt.req
			req.PackDir = newPack(t, map[string]string{"a.sh": `echo $$; read _ < "$GATE"`})
			req.Env = map[string]string{"GATE": gatePath}
			if req.Parameters == nil {
				req.Parameters = map[string]any{"token": secret}
			}
			onLine, got := lines()
			req.OnLine = onLine
			req = withTestDefaults(t, req)
			done := make(chan runner.Result, 1)
			go func() {
				res, err := runner.Run(t.Context(), req)
				if err != nil {
					res.Error = err.Error()
				}
				done <- res
			}()
			pid := strings.TrimPrefix(receive(t, got), "stdout:")

			cmdline, err := os.ReadFile("/proc/" + pid + "/cmdline")
			require.NoError(t, err)
			require.NotContains(t, string(cmdline), secret)
			environ, err := os.ReadFile("/proc/" + pid + "/environ")
			require.NoError(t, err)
			require.NotContains(t, string(environ), secret)
			var keys []string
			for kv := range strings.SplitSeq(strings.TrimRight(string(environ), "\x00"), "\x00") {
				keys = append(keys, strings.SplitN(kv, "=", 2)[0])
			}
			require.ElementsMatch(t, append([]string{"PATH", "HOME", "LANG", "GATE"}, tt.wantEnv...), keys)
			if req.Delivery == runner.DeliveryFile {
				st, err := os.Stat(filepath.Join(req.TempDir, tempFiles(t, req.TempDir)[0]))
				require.NoError(t, err)
				require.Equal(t, os.FileMode(0o400), st.Mode().Perm())
			}

			release()
			res := <-done
			require.Empty(t, res.Error)
			require.Equal(t, 0, res.ExitCode)
			require.Empty(t, tempFiles(t, req.TempDir), "temp files must be removed")
		})
	}
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestRunMinimalEnvironment cannot be parallel: t.Setenv changes the whole
// test process's environment, which is exactly what must not leak.
func TestRunMinimalEnvironment(t *testing.T) {
	t.Setenv("ATTUNE_TEST_SERVER_SECRET", "leak-canary")
	tmp := t.TempDir()
	res, err := runner.Run(t.Context(), withTestDefaults(t, runner.Request{
		Runner: runner.Python, Interpreter: systemPython, EntryPoint: "env.py", TempDir: tmp,
		PackDir: newPack(t, map[string]string{"env.py": "import json, os\nprint(json.dumps(dict(os.environ)))\n"}),
		Env:     map[string]string{"ATTUNE_ACTION_REF": "demo.env"},
	}))
	require.NoError(t, err)
	env, ok := res.Result.(map[string]any)
	require.True(t, ok, res.Stdout)
	require.NotContains(t, res.Stdout, "leak-canary")
	require.Equal(t, filepath.Dir(systemPython)+":"+runner.DefaultPath, env["PATH"])
	require.Equal(t, tmp, env["HOME"])
	require.Equal(t, "C.UTF-8", env["LANG"])
	require.Equal(t, "demo.env", env["ATTUNE_ACTION_REF"])
}

func TestRunStreamsLinesLive(t *testing.T) {
	t.Parallel()
	gatePath, release := gate(t)
	onLine, got := lines()
	req := withTestDefaults(t, runner.Request{
		Runner: runner.Python, Interpreter: systemPython, EntryPoint: "a.py", OnLine: onLine,
		Env: map[string]string{"GATE": gatePath},
		PackDir: newPack(t, map[string]string{"a.py": "import os, sys\n" +
			"print('first')\nprint('oops', file=sys.stderr)\nopen(os.environ['GATE']).read()\nprint('last')\n"}),
	})
	done := make(chan runner.Result, 1)
	go func() {
		res, _ := runner.Run(t.Context(), req)
		done <- res
	}()
	// The action cannot exit before release, so these lines arrived live.
	early := []string{receive(t, got), receive(t, got)}
	require.ElementsMatch(t, []string{"stdout:first", "stderr:oops"}, early)
	release()
	res := <-done
	require.Equal(t, "stdout:last", receive(t, got))
	require.Equal(t, "first\nlast\n", res.Stdout)
	require.Equal(t, "oops\n", res.Stderr)
}

func TestRunTruncatesOutput(t *testing.T) {
	t.Parallel()
	// 3000 lines of "x\n" on stdout, 10 bytes on stderr.
	var calls atomic.Int64
	onLine := func(string, string) { calls.Add(1) }
	res, err := runner.Run(t.Context(), withTestDefaults(t, runner.Request{
		Runner: runner.Shell, EntryPoint: "a.sh", MaxOutput: 1001, OnLine: onLine,
		PackDir: newPack(t, map[string]string{"a.sh": "for i in $(seq 3000); do echo x; done\necho 123456789 >&2\n"}),
	}))
	require.NoError(t, err)
	require.Len(t, res.Stdout, 1001)
	require.True(t, res.StdoutTruncated)
	require.Equal(t, int64(6000-1001), res.StdoutDropped)
	require.False(t, res.StderrTruncated)
	require.Zero(t, res.StderrDropped)
	require.Equal(t, "123456789\n", res.Stderr)
	require.Equal(t, int64(3001), calls.Load(), "every line reaches OnLine, even beyond the cap")
}

// groupAction starts a child and a grandchild that would sleep for 300s,
// prints their PIDs, then waits.
const groupAction = `sleep 300 & echo "child $!"
bash -c 'sleep 300 & echo "grandchild $!"; wait' &
wait
`

func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()
	onLine, got := lines()
	res, err := runner.Run(t.Context(), withTestDefaults(t, runner.Request{
		Runner: runner.Shell, EntryPoint: "a.sh", Timeout: time.Second, OnLine: onLine,
		PackDir: newPack(t, map[string]string{"a.sh": groupAction}),
	}))
	require.NoError(t, err)
	require.True(t, res.TimedOut)
	require.False(t, res.Canceled)
	require.Equal(t, "timed out after 1s", res.Error)
	require.Equal(t, -1, res.ExitCode)
	for _, pid := range pids(t, got, 2) {
		requireGone(t, pid)
	}
	requireGone(t, res.PID)
}

func TestRunCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script string
	}{
		{name: "terminates on SIGTERM", script: groupAction},
		{name: "ignores SIGTERM", script: "trap '' TERM\n" + groupAction},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			var seen []string
			var mu sync.Mutex
			onLine := func(_, line string) {
				mu.Lock()
				defer mu.Unlock()
				if seen = append(seen, line); len(seen) == 2 {
					cancel()
				}
			}
			res, err := runner.Run(ctx, withTestDefaults(t, runner.Request{
				Runner: runner.Shell, EntryPoint: "a.sh", OnLine: onLine, KillGrace: 200 * time.Millisecond,
				PackDir: newPack(t, map[string]string{"a.sh": tt.script}),
			}))
			require.NoError(t, err)
			require.True(t, res.Canceled)
			require.False(t, res.TimedOut)
			require.Equal(t, "canceled", res.Error)
			mu.Lock()
			defer mu.Unlock()
			for _, line := range seen {
				pid, err := strconv.Atoi(strings.Fields(line)[1])
				require.NoError(t, err)
				requireGone(t, pid)
			}
		})
	}
}

// pids reads n "<name> <pid>" lines.
func pids(t *testing.T, got <-chan string, n int) []int {
	t.Helper()
	var out []int
	for range n {
		pid, err := strconv.Atoi(strings.Fields(receive(t, got))[1])
		require.NoError(t, err)
		out = append(out, pid)
	}
	return out
}

func TestRunPrepareErrors(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"a.sh":          "echo hi\n",
		"data.txt":      "not executable\n",
		"garbage":       "\x00\x01\x02 not a program",
		"actions/.keep": "",
	}
	tests := []struct {
		name      string
		req       runner.Request
		wantCause string
	}{
		{"pack dir gone", runner.Request{Runner: runner.Shell, PackDir: "/nonexistent/pack", EntryPoint: "a.sh"},
			"pack directory /nonexistent/pack is missing"},
		{"entry missing", runner.Request{Runner: runner.Shell, EntryPoint: "nope.sh"}, "entry point nope.sh not found in "},
		{"entry not set", runner.Request{Runner: runner.Shell}, "entry point not set"},
		{"entry is a directory", runner.Request{Runner: runner.Shell, EntryPoint: "actions"}, "entry point actions is a directory"},
		{"entry escapes pack", runner.Request{Runner: runner.Shell, EntryPoint: "../a.sh"}, "entry point ../a.sh escapes the pack directory"},
		{"native not executable", runner.Request{Runner: runner.Native, EntryPoint: "data.txt"}, "entry point data.txt is not executable"},
		{"native exec format", runner.Request{Runner: runner.Native, EntryPoint: "garbage"}, "exec format error"},
		{"python env missing", runner.Request{Runner: runner.Python, EntryPoint: "a.sh", Interpreter: "/gone/venv/bin/python"},
			"python environment missing at /gone/venv/bin/python"},
		{"python not configured", runner.Request{Runner: runner.Python, EntryPoint: "a.sh"}, "python interpreter not configured"},
		{"node not found", runner.Request{Runner: runner.Node, EntryPoint: "a.sh", Env: map[string]string{"PATH": "/nonexistent"}},
			"node interpreter node not found (PATH /nonexistent)"},
		{"shell interpreter missing", runner.Request{Runner: runner.Shell, EntryPoint: "a.sh", Interpreter: "/no/bash"},
			"shell interpreter /no/bash not found"},
		{"unknown runner", runner.Request{Runner: "cobol", EntryPoint: "a.sh"}, `unknown runner "cobol"`},
		{"local without cmd", runner.Request{Runner: runner.Local}, `local runner needs a non-empty string parameter "cmd"`},
		{"unknown delivery", runner.Request{Runner: runner.Local, Delivery: "env", Parameters: map[string]any{"cmd": "true"}},
			`unknown parameter delivery "env"`},
		{"unencodable parameters", runner.Request{Runner: runner.Shell, EntryPoint: "a.sh", Parameters: map[string]any{"f": func() {}}},
			"encoding parameters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := tt.req
			if req.PackDir == "" {
				req.PackDir = newPack(t, files)
			}
			req.TempDir = t.TempDir()
			_, err := runner.Run(t.Context(), withTestDefaults(t, req))
			var prep *runner.PrepareError
			require.True(t, errors.As(err, &prep), "got %v", err)
			require.Contains(t, prep.Cause, tt.wantCause)
			require.True(t, strings.HasPrefix(err.Error(), "Execution failed during preparation: "))
			require.Empty(t, tempFiles(t, req.TempDir), "nothing may be left behind")
		})
	}
}

func TestRunWorkingDirectory(t *testing.T) {
	t.Parallel()
	// The working directory is the pack directory, even for a relative PackDir.
	pack := newPack(t, map[string]string{"a.sh": "pwd\n"})
	wd, err := os.Getwd()
	require.NoError(t, err)
	rel, err := filepath.Rel(wd, pack)
	require.NoError(t, err)
	res, err := runner.Run(t.Context(), withTestDefaults(t, runner.Request{Runner: runner.Shell, PackDir: rel, EntryPoint: "a.sh"}))
	require.NoError(t, err)
	require.Equal(t, pack+"\n", res.Stdout)
}

// TestRunRelativeTempDir: a TempDir relative to the worker's working
// directory still works, although the action runs in its pack directory.
// Not parallel: t.Chdir changes the test process's working directory.
func TestRunRelativeTempDir(t *testing.T) {
	t.Chdir(t.TempDir())
	require.NoError(t, os.Mkdir("tmp", 0o700))
	for _, delivery := range []string{runner.DeliveryStdin, runner.DeliveryFile} {
		t.Run(delivery, func(t *testing.T) {
			res, err := runner.Run(t.Context(), withTestDefaults(t, runner.Request{
				Runner: runner.Local, PackDir: newPack(t, nil), TempDir: "tmp", Delivery: delivery,
				Parameters: map[string]any{"cmd": `test -z "$ATTUNE_PARAMETERS_FILE" || test -r "$ATTUNE_PARAMETERS_FILE" && echo ok`},
			}))
			require.NoError(t, err)
			require.Empty(t, res.Error, res.Stderr)
			require.Equal(t, "ok\n", res.Stdout)
		})
	}
}

// TestRunPythonImports: an action file named like a standard module does
// not shadow it (core.http's http.py once broke urllib), while sibling
// modules, actions/lib and the pack's lib/ (PYTHONPATH) stay importable and
// the script runs as __main__ with its own path in argv[0].
func TestRunPythonImports(t *testing.T) {
	t.Parallel()
	dir := newPack(t, map[string]string{
		"actions/http.py": `import json, sys, urllib.request, http.client
import helper
from lib import util
import packlib
print(json.dumps({"name": __name__, "argv0": sys.argv[0], "argv": sys.argv[1:],
    "stdlib": http.client.__name__, "helper": helper.X, "util": util.Y, "packlib": packlib.Z}))
`,
		"actions/json.py":         "import json\nprint(json.dumps({'ok': True}))\n",
		"actions/helper.py":       "X = 'sibling'\n",
		"actions/lib/__init__.py": "",
		"actions/lib/util.py":     "Y = 'actions lib'\n",
		"lib/packlib.py":          "Z = 'pack lib'\n",
		"actions/fail.py":         "import sys\nsys.exit(3)\n",
		"actions/raise.py":        "raise RuntimeError('boom')\n",
	})
	tests := []struct {
		entry      string
		wantExit   int
		wantResult string
		wantStderr string
	}{
		{entry: "actions/http.py", wantResult: `{"name": "__main__", "argv0": "` + filepath.Join(dir, "actions", "http.py") + `",
			"argv": [], "stdlib": "http.client", "helper": "sibling", "util": "actions lib", "packlib": "pack lib"}`},
		{entry: "actions/json.py", wantResult: `{"ok": true}`},
		{entry: "actions/fail.py", wantExit: 3},
		{entry: "actions/raise.py", wantExit: 1, wantStderr: "RuntimeError: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.entry, func(t *testing.T) {
			t.Parallel()
			res, err := runner.Run(t.Context(), withTestDefaults(t, runner.Request{
				Runner: runner.Python, Interpreter: systemPython, PackDir: dir, EntryPoint: tt.entry,
				Env: map[string]string{"PYTHONPATH": filepath.Join(dir, "lib")},
			}))
			require.NoError(t, err)
			require.Equal(t, tt.wantExit, res.ExitCode, res.Stderr)
			if tt.wantResult != "" {
				requireJSON(t, tt.wantResult, res.Result)
			}
			require.Contains(t, res.Stderr, tt.wantStderr)
		})
	}
}

// TestResultChannel: under ResultChannel the action's fd 3 is a pipe whose
// contents come back apart from stdout, and a wrapper runs instead of the
// entry point, with the entry point's path as its argument.
func TestResultChannel(t *testing.T) {
	t.Parallel()
	dir := newPack(t, map[string]string{
		"wrapper.py": "import os, sys\nprint('printed')\nos.write(3, ('ran ' + os.path.basename(sys.argv[1])).encode())\n",
		"action.py":  "raise SystemExit('the wrapper runs, not the entry point')\n",
	})
	res, err := runner.Run(t.Context(), withTestDefaults(t, runner.Request{
		Runner: runner.Python, PackDir: dir, EntryPoint: "action.py", Interpreter: systemPython,
		Wrapper: filepath.Join(dir, "wrapper.py"), ResultChannel: true,
	}))
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode, res.Stderr)
	require.Equal(t, "printed\n", res.Stdout)
	require.Equal(t, "ran action.py", string(res.Returned))
	require.False(t, res.ReturnedTruncated)

	// Without it, fd 3 is not open in the child.
	res, err = runner.Run(t.Context(), withTestDefaults(t, runner.Request{
		Runner: runner.Shell, PackDir: newPack(t, map[string]string{"a.sh": "echo x >&3 || echo closed\n"}),
		EntryPoint: "a.sh",
	}))
	require.NoError(t, err)
	require.Contains(t, res.Stdout, "closed")
	require.Nil(t, res.Returned)
}
