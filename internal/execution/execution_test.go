package execution_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	entexec "github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/execution"
)

// packFiles is a pack with actions for every runner, succeeding and failing.
var packFiles = map[string]string{
	"ok.sh":   "#!/bin/bash\nread -r p\necho 'a log line'\necho \"{\\\"got\\\": $p}\"\n",
	"fail.sh": "#!/bin/bash\necho 'first' >&2\necho 'oops: disk full' >&2\nexit 3\n",
	"text.sh": "#!/bin/bash\necho hello\necho world\n",
	"env.sh": "#!/bin/bash\nprintf '{\"id\":\"%s\",\"action\":\"%s\",\"pack\":\"%s\",\"api\":\"%s\",\"cwd\":\"%s\"}\\n' " +
		"\"$ATTUNE_EXECUTION_ID\" \"$ATTUNE_ACTION_REF\" \"$ATTUNE_PACK_REF\" \"$ATTUNE_API_URL\" \"$PWD\"\n",
	"file.sh":                   "#!/bin/bash\nf=\"$ATTUNE_PARAMETERS_FILE\"\necho \"{\\\"mode\\\": \\\"$(stat -c %a \"$f\")\\\", \\\"p\\\": $(cat \"$f\")}\"\n",
	"ok.py":                     "import sys, json, helper\np = json.loads(sys.stdin.readline())\nprint(json.dumps({'py': helper.twice(p['n'])}))\n",
	"fail.py":                   "raise SystemExit('bad python')\n",
	"lib/helper.py":             "def twice(n):\n    return 2 * n\n",
	"ok.js":                     "const m = require('mod');\nlet d = '';\nprocess.stdin.on('data', c => d += c);\nprocess.stdin.on('end', () => console.log(JSON.stringify({node: m.inc(JSON.parse(d).n)})));\n",
	"fail.js":                   "process.stderr.write('bad node\\n');\nprocess.exit(2);\n",
	"node_modules/mod/index.js": "exports.inc = n => n + 1;\n",
	"native.sh":                 "#!/bin/sh\necho '{\"native\": true}'\n",
	"native-fail.sh":            "#!/bin/sh\nexit 4\n",
}

// venv makes a directory shaped like a venv whose python is the system's.
func venv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	require.NoError(t, os.Symlink("/usr/bin/python3", filepath.Join(dir, "bin", "python")))
	return dir
}

func TestRunners(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend, packFiles, setupOptions{worker: execution.WorkerOptions{APIURL: "http://api.test"}})
		b.db.Ent.Pack.UpdateOne(b.pack).SetEnvPath(venv(t)).ExecX(t.Context())
		n := map[string]any{"n": map[string]any{"type": "integer"}}
		cmd := map[string]any{"cmd": map[string]any{"type": "string", "required": true}}
		tests := []struct {
			name, entry string
			runner      action.RunnerType
			schema      map[string]any
			params      map[string]any
			status      entexec.Status
			result      string // JSON
			exit        int
			errContains string
		}{
			{"shell-json", "ok.sh", action.RunnerTypeSHELL, n, map[string]any{"n": 1}, execution.Succeeded, `{"got":{"n":1}}`, 0, ""},
			{"shell-fail", "fail.sh", action.RunnerTypeSHELL, nil, nil, execution.Failed, `""`, 3, "oops: disk full"},
			{"shell-text", "text.sh", action.RunnerTypeSHELL, nil, nil, execution.Succeeded, `"hello\nworld"`, 0, ""},
			{"python", "ok.py", action.RunnerTypePYTHON, n, map[string]any{"n": 21}, execution.Succeeded, `{"py":42}`, 0, ""},
			{"python-fail", "fail.py", action.RunnerTypePYTHON, nil, nil, execution.Failed, `""`, 1, "bad python"},
			{"node", "ok.js", action.RunnerTypeNODE, n, map[string]any{"n": 41}, execution.Succeeded, `{"node":42}`, 0, ""},
			{"node-fail", "fail.js", action.RunnerTypeNODE, nil, nil, execution.Failed, `""`, 2, "bad node"},
			{"native", "native.sh", action.RunnerTypeNATIVE, nil, nil, execution.Succeeded, `{"native":true}`, 0, ""},
			{"native-fail", "native-fail.sh", action.RunnerTypeNATIVE, nil, nil, execution.Failed, `""`, 4, "exit status 4"},
			{"local", "", action.RunnerTypeLOCAL, cmd, map[string]any{"cmd": "echo local-$((1+1))"}, execution.Succeeded, `"local-2"`, 0, ""},
			{"local-fail", "", action.RunnerTypeLOCAL, cmd, map[string]any{"cmd": "echo no >&2; exit 5"}, execution.Failed, `""`, 5, "no"},
		}
		for _, tt := range tests {
			b.action(t, tt.name, tt.runner, tt.entry, tt.schema)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e := b.run(t, "tp."+tt.name, tt.params)
				require.Equal(t, tt.status, e.Status, "error: %s\nstderr: %s", e.Error, e.Stderr)
				require.JSONEq(t, tt.result, string(e.Result))
				require.NotNil(t, e.ExitCode)
				require.Equal(t, tt.exit, *e.ExitCode)
				require.Contains(t, e.Error, tt.errContains)
				require.Equal(t, b.worker.Name(), e.Worker)
				require.Equal(t, 1, e.Attempt)
				require.NotNil(t, e.StartedAt)
				require.NotNil(t, e.FinishedAt)
			})
		}
		t.Run("environment", func(t *testing.T) {
			t.Parallel()
			b.action(t, "env", action.RunnerTypeSHELL, "env.sh", nil)
			e := b.run(t, "tp.env", nil)
			require.Equal(t, execution.Succeeded, e.Status, e.Error)
			var got map[string]string
			require.NoError(t, json.Unmarshal(e.Result, &got))
			require.Equal(t, map[string]string{
				"id": strconv.Itoa(e.ID), "action": "tp.env", "pack": "tp", "api": "http://api.test",
				"cwd": b.pack.Path,
			}, got)
		})
	})
}

func TestParameterDelivery(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend, packFiles, setupOptions{})
		schema := map[string]any{
			"name":  map[string]any{"type": "string", "required": true},
			"count": map[string]any{"type": "integer", "default": 3},
		}
		b.action(t, "stdin", action.RunnerTypeSHELL, "ok.sh", schema)
		b.action(t, "file", action.RunnerTypeSHELL, "file.sh", schema, func(c *ent.ActionCreate) {
			c.SetParameterDelivery(action.ParameterDeliveryFILE)
		})
		e := b.run(t, "tp.stdin", map[string]any{"name": "x"})
		require.Equal(t, execution.Succeeded, e.Status, e.Error)
		require.JSONEq(t, `{"got":{"name":"x","count":3}}`, string(e.Result))

		e = b.run(t, "tp.file", map[string]any{"name": "y"})
		require.Equal(t, execution.Succeeded, e.Status, e.Error)
		require.JSONEq(t, `{"mode":"400","p":{"name":"y","count":3}}`, string(e.Result))
		require.Equal(t, map[string]any{"name": "y", "count": float64(3)}, e.Parameters)
	})
}

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend, packFiles, setupOptions{insertOnly: true})
		b.action(t, "v", action.RunnerTypeSHELL, "ok.sh", map[string]any{
			"name":  map[string]any{"type": "string", "required": true},
			"level": map[string]any{"type": "string", "enum": []any{"low", "high"}},
			"n":     map[string]any{"type": "integer"},
		})
		b.action(t, "off", action.RunnerTypeSHELL, "ok.sh", nil, func(c *ent.ActionCreate) { c.SetEnabled(false) })
		neg := -1
		tests := []struct {
			name   string
			req    execution.Request
			code   apperr.Code
			fields []string
		}{
			{"unknown action", execution.Request{Action: "tp.nope"}, apperr.NotFound, nil},
			{"disabled", execution.Request{Action: "tp.off"}, apperr.BadUserInput, nil},
			{"every violation", execution.Request{Action: "tp.v", Parameters: map[string]any{"level": "mid", "n": "x", "extra": 1}},
				apperr.BadUserInput, []string{"extra", "level", "n", "name"}},
			{"negative timeout", execution.Request{Action: "tp.v", Parameters: map[string]any{"name": "a"}, TimeoutSeconds: &neg},
				apperr.BadUserInput, []string{"timeoutSeconds"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := b.svc.Request(t.Context(), tt.req)
				require.Error(t, err)
				ae, ok := apperr.As(err)
				require.True(t, ok, "%v", err)
				require.Equal(t, tt.code, ae.Code)
				if tt.fields != nil {
					var got []string
					for _, f := range ae.Details["fields"].([]map[string]string) {
						got = append(got, f["field"])
					}
					require.Equal(t, tt.fields, got)
				}
			})
		}
		require.Zero(t, b.db.Ent.Execution.Query().CountX(t.Context()), "a refused request stores nothing")
	})
}

func TestTimeoutKillsGrandchildren(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		pidFile := filepath.Join(t.TempDir(), "pid")
		b := setup(t, backend, map[string]string{
			"slow.sh": "#!/bin/bash\nsleep 300 &\necho $! > " + pidFile + "\necho started\nwait\n",
		}, setupOptions{})
		b.action(t, "slow", action.RunnerTypeSHELL, "slow.sh", nil)
		one := 1
		e, err := b.svc.Request(t.Context(), execution.Request{Action: "tp.slow", TimeoutSeconds: &one})
		require.NoError(t, err)
		require.Equal(t, 1, e.TimeoutSeconds)
		e = b.wait(t, e.ID, execution.Finished)
		require.Equal(t, execution.TimedOut, e.Status)
		require.Contains(t, e.Error, "timed out")
		pid, err := strconv.Atoi(strings.TrimSpace(string(must(os.ReadFile(pidFile)))))
		require.NoError(t, err)
		requireGone(t, pid)
	})
}

func TestCancel(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		t.Run("before start", func(t *testing.T) {
			t.Parallel()
			marker := filepath.Join(t.TempDir(), "ran")
			b := setup(t, backend, map[string]string{"mark.sh": "#!/bin/bash\ntouch " + marker + "\n"},
				setupOptions{insertOnly: true})
			b.action(t, "mark", action.RunnerTypeSHELL, "mark.sh", nil)
			e, err := b.svc.Request(t.Context(), execution.Request{Action: "tp.mark"})
			require.NoError(t, err)
			require.Equal(t, execution.Scheduled, e.Status)
			e, err = b.svc.Cancel(t.Context(), e.ID)
			require.NoError(t, err)
			require.Equal(t, execution.Canceled, e.Status)
			// The job is still queued; when a worker gets it, nothing runs.
			require.NoError(t, b.worker.Run(t.Context(), e.ID))
			e = b.db.Ent.Execution.GetX(t.Context(), e.ID)
			require.Equal(t, execution.Canceled, e.Status)
			require.NoFileExists(t, marker)
			_, err = b.svc.Cancel(t.Context(), e.ID)
			require.Equal(t, apperr.Conflict, apperr.CodeOf(err))
			_, err = b.svc.Cancel(t.Context(), 424242)
			require.Equal(t, apperr.NotFound, apperr.CodeOf(err))
		})
		t.Run("while running", func(t *testing.T) {
			t.Parallel()
			pidFile := filepath.Join(t.TempDir(), "pid")
			b := setup(t, backend, map[string]string{
				"slow.sh": "#!/bin/bash\nsleep 300 &\necho $! > " + pidFile + "\necho started\nwait\n",
			}, setupOptions{})
			b.action(t, "slow", action.RunnerTypeSHELL, "slow.sh", nil)
			e, err := b.svc.Request(t.Context(), execution.Request{Action: "tp.slow"})
			require.NoError(t, err)
			lines, err := b.svc.Output(t.Context(), e.ID, 0)
			require.NoError(t, err)
			first := <-lines
			require.Equal(t, "started", first.Line)
			e, err = b.svc.Cancel(t.Context(), e.ID)
			require.NoError(t, err)
			require.Contains(t, []entexec.Status{execution.Canceling, execution.Canceled}, e.Status)
			e = b.wait(t, e.ID, execution.Finished)
			require.Equal(t, execution.Canceled, e.Status, e.Error)
			pid, err := strconv.Atoi(strings.TrimSpace(string(must(os.ReadFile(pidFile)))))
			require.NoError(t, err)
			requireGone(t, pid)
			for range lines { // the stream ends once the execution finished
			}
		})
	})
}

func TestPreparationFailure(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend, packFiles, setupOptions{})
		env := venv(t)
		b.db.Ent.Pack.UpdateOne(b.pack).SetEnvPath(env).ExecX(t.Context())
		b.action(t, "py", action.RunnerTypePYTHON, "ok.py", nil)
		b.action(t, "missing", action.RunnerTypeSHELL, "nope.sh", nil)
		require.NoError(t, os.RemoveAll(env))
		e := b.run(t, "tp.py", nil)
		require.Equal(t, execution.Failed, e.Status)
		require.Equal(t, "Execution failed during preparation: python environment missing at "+filepath.Join(env, "bin", "python"), e.Error)
		require.Nil(t, e.ExitCode)
		e = b.run(t, "tp.missing", nil)
		require.Equal(t, execution.Failed, e.Status)
		require.Contains(t, e.Error, "Execution failed during preparation: entry point nope.sh not found")
	})
}

func TestOutput(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend, map[string]string{
			"chatty.sh": "#!/bin/bash\nfor i in $(seq 0 9); do echo \"out $i\"; echo \"err $i\" >&2; done\nhead -c 5000 /dev/zero | tr '\\0' x\n",
		}, setupOptions{worker: execution.WorkerOptions{MaxOutput: 1000}})
		b.action(t, "chatty", action.RunnerTypeSHELL, "chatty.sh", nil)
		e := b.run(t, "tp.chatty", nil)
		require.Equal(t, execution.Succeeded, e.Status, e.Error)
		require.True(t, e.StdoutTruncated)
		require.Len(t, e.Stdout, 1000)
		require.Equal(t, int64(10*len("out 0\n")+5000-1000), e.StdoutDropped)
		require.False(t, e.StderrTruncated)
		require.Equal(t, int64(0), e.StderrDropped)

		read := func(from int) []string {
			ch, err := b.svc.Output(t.Context(), e.ID, from)
			require.NoError(t, err)
			var got []string
			for l := range ch {
				got = append(got, fmt.Sprintf("%d %s %s", l.Seq, l.Stream, l.Line))
			}
			return got
		}
		all := read(0)
		require.Len(t, all, 21, "10 + 10 lines, and the long line (begun under the cap)")
		var stdout []string
		for _, l := range all {
			if _, text, ok := strings.Cut(l, " stdout "); ok {
				stdout = append(stdout, text)
			}
		}
		require.Equal(t, []string{"out 0", "out 1", "out 2", "out 3", "out 4", "out 5", "out 6", "out 7", "out 8", "out 9",
			strings.Repeat("x", 5000)}, stdout)
		require.Equal(t, all[15:], read(15), "resumes from a line number")
		require.Empty(t, read(100))
	})
}

// textAndFail is a setup with the actions tp.text (succeeds) and tp.fail,
// and a context that ends at the test's deadline.
func textAndFail(t *testing.T, backend string) (*bundle, context.Context) {
	t.Helper()
	b := setup(t, backend, packFiles, setupOptions{})
	b.action(t, "text", action.RunnerTypeSHELL, "text.sh", nil)
	b.action(t, "fail", action.RunnerTypeSHELL, "fail.sh", nil)
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	t.Cleanup(cancel)
	return b, ctx
}

func TestUpdatesFilter(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b, ctx := textAndFail(t, backend)
		ch, err := b.svc.Updates(ctx, execution.UpdateFilter{Statuses: []entexec.Status{execution.Failed}})
		require.NoError(t, err)
		b.run(t, "tp.text", nil)
		failed := b.run(t, "tp.fail", nil)
		got := <-ch
		require.Equal(t, failed.ID, got.ID)
		require.Equal(t, execution.Failed, got.Status)
	})
}

// TestUpdatesOfABurstReachEverySubscriber: hints taken together are read
// together; a subscriber by action still sees every one of its executions
// finish, and none of another action's.
func TestUpdatesOfABurstReachEverySubscriber(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b, ctx := textAndFail(t, backend)
		ch, err := b.svc.Updates(ctx, execution.UpdateFilter{ActionRef: "tp.text"})
		require.NoError(t, err)
		want := map[int]bool{}
		for range 8 {
			e, err := b.svc.Request(ctx, execution.Request{Action: "tp.text"})
			require.NoError(t, err)
			want[e.ID] = true
			_, err = b.svc.Request(ctx, execution.Request{Action: "tp.fail"})
			require.NoError(t, err)
		}
		for len(want) > 0 {
			select {
			case e := <-ch:
				require.Equal(t, "tp.text", e.ActionRef)
				if execution.Finished(e.Status) {
					require.Equal(t, execution.Succeeded, e.Status)
					delete(want, e.ID)
				}
			case <-ctx.Done():
				t.Fatalf("executions never seen finished: %v", want)
			}
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// requireGone waits until pid has exited (gone, or a zombie awaiting init).
func requireGone(t *testing.T, pid int) {
	t.Helper()
	eventually(t, func() bool {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		return err != nil || strings.Contains(string(stat), ") Z ")
	}, "process %d still alive", pid)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, cond func() bool, msg string, args ...any) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(deadline)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf(msg, args...)
		}
	}
}

// TestManyAtOnce runs more executions than workers at once, so claims and
// outcomes overlap and outcomes commit in batches (finisher): each must
// record its own run's result.
func TestManyAtOnce(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend, packFiles, setupOptions{})
		b.action(t, "env", action.RunnerTypeSHELL, "env.sh", nil)
		ids := make([]int, 40)
		for i := range ids {
			e, err := b.svc.Request(t.Context(), execution.Request{Action: "tp.env"})
			require.NoError(t, err)
			ids[i] = e.ID
		}
		for _, id := range ids {
			e := b.wait(t, id, execution.Finished)
			require.Equal(t, execution.Succeeded, e.Status, e.Error)
			var got map[string]string
			require.NoError(t, json.Unmarshal(e.Result, &got))
			require.Equal(t, strconv.Itoa(id), got["id"])
			require.Equal(t, 1, e.Attempt)
			require.Equal(t, b.worker.Name(), e.Worker)
			require.NotNil(t, e.StartedAt)
			require.NotNil(t, e.FinishedAt)
		}
	})
}

// TestConcurrentRequestsEachGetTheirOwnAnswer: requests arriving together
// are stored together, yet each gets its own execution or its own error,
// and a refused one costs the others nothing.
func TestConcurrentRequestsEachGetTheirOwnAnswer(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend, packFiles, setupOptions{})
		b.action(t, "num", action.RunnerTypeSHELL, "env.sh", map[string]any{"n": map[string]any{"type": "integer", "required": true}})
		const valid, bad, unknown = 30, 5, 5
		type answer struct {
			n   int
			e   *ent.Execution
			err error
		}
		answers := make(chan answer, valid+bad+unknown)
		var wg sync.WaitGroup
		for i := range valid + bad + unknown {
			wg.Go(func() {
				req := execution.Request{Action: "tp.num", Parameters: map[string]any{"n": i}}
				switch {
				case i >= valid+bad:
					req.Action = "tp.nope"
				case i >= valid:
					req.Parameters = map[string]any{"n": "not a number"}
				}
				e, err := b.svc.Request(t.Context(), req)
				answers <- answer{i, e, err}
			})
		}
		wg.Wait()
		close(answers)
		for a := range answers {
			switch {
			case a.n >= valid+bad:
				require.Equal(t, apperr.NotFound, apperr.CodeOf(a.err), "request %d: %v", a.n, a.err)
			case a.n >= valid:
				require.Equal(t, apperr.BadUserInput, apperr.CodeOf(a.err), "request %d: %v", a.n, a.err)
			default:
				require.NoError(t, a.err, "request %d", a.n)
				require.EqualValues(t, a.n, a.e.Parameters["n"], "request %d got its own execution", a.n)
			}
		}
		n, err := b.db.Ent.Execution.Query().Count(t.Context())
		require.NoError(t, err)
		require.Equal(t, valid, n, "only the valid requests are stored, each once")
	})
}
