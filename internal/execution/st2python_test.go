package execution

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/runner"
)

func TestSt2ActionParameters(t *testing.T) {
	t.Parallel()
	schema, err := param.ParseSchema(map[string]any{
		"name":    map[string]any{"type": "string"},
		"count":   map[string]any{"type": "integer"},
		"env":     map[string]any{"type": "object"},
		"timeout": map[string]any{"type": "integer", "default": 600},
	})
	require.NoError(t, err)
	got := st2ActionParameters(schema, map[string]any{"name": "x", "timeout": 600, "env": map[string]any{}})
	require.Equal(t, map[string]any{"name": "x", "count": nil}, got)
}

func TestPackConfigFillsSchemaDefaults(t *testing.T) {
	t.Parallel()
	got, err := PackConfig(&ent.Pack{
		Config: map[string]any{"region": "eu", "retries": 5},
		ConfSchema: map[string]any{
			"region":  map[string]any{"type": "string"},
			"retries": map[string]any{"type": "integer", "default": 3},
			"port":    map[string]any{"type": "integer", "default": 443},
			"url":     map[string]any{"type": "string", "default": "{{ config_context.region }}"},
		},
	})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"region": "eu", "retries": 5, "port": 443}, got)
}

// TestSt2PythonVerdict: the wrapper's verdict decides the status as
// StackStorm's runner does, and no run without one is SUCCEEDED.
func TestSt2PythonVerdict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		res      runner.Result
		to       string
		err      string
		result   string
		exitCode int
	}{
		{name: "Value", res: runner.Result{Returned: []byte(`{"status":null,"result":{"a":1}}`)},
			to: "SUCCEEDED", result: `{"a":1}`},
		{name: "TrueTuple", res: runner.Result{Returned: []byte(`{"status":true,"result":[1,2]}`)},
			to: "SUCCEEDED", result: `[1,2]`},
		{name: "FalseTuple", res: runner.Result{Returned: []byte(`{"status":false,"result":"x"}`)},
			to: "FAILED", err: "run() returned (False, result): the action reported a failure", result: `"x"`},
		{name: "Exception", res: runner.Result{ExitCode: 1, Error: "tail", Returned: []byte(`{"error":"ValueError: boom"}`)},
			to: "FAILED", err: "ValueError: boom", result: `null`, exitCode: 1},
		{name: "NothingReturnedExit0", res: runner.Result{},
			to: "FAILED", err: "the action ended without handing back run()'s outcome", result: `null`},
		{name: "Garbage", res: runner.Result{Returned: []byte(`{"status":`)},
			to: "FAILED", err: "the action ended without handing back run()'s outcome", result: `null`},
		{name: "Truncated", res: runner.Result{Returned: []byte(`{"status":null,"result":"`), ReturnedTruncated: true},
			to: "FAILED", err: "the action's result is larger than the worker's max_output_bytes", result: `null`},
		{name: "SysExit0", res: runner.Result{Returned: []byte(`{"status":null,"result":null,"exit":0}`)},
			to: "SUCCEEDED", result: `null`},
		{name: "SysExit2", res: runner.Result{ExitCode: 2, Error: "exit status 2", Returned: []byte(`{"status":null,"result":null,"exit":2}`)},
			to: "FAILED", err: "exit status 2", result: `null`, exitCode: 2},
		{name: "TimedOut", res: runner.Result{ExitCode: -1, TimedOut: true, Error: "timed out after 1s"},
			to: "TIMEOUT", err: "timed out after 1s", result: `null`, exitCode: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := &outcomeRecord{to: outcome(t.Context(), tc.res)}
			recordResult(r, tc.res, newRedactor(nil), "python-script", 1)
			require.Equal(t, tc.to, string(r.to))
			require.Equal(t, tc.err, r.errMsg)
			var shape map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(r.result, &shape))
			require.Len(t, shape, 4)
			require.JSONEq(t, tc.result, string(shape["result"]))
			require.JSONEq(t, string(must(json.Marshal(tc.exitCode))), string(shape["exit_code"]))
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestRunnerTimeout: a StackStorm runner's timeout parameter sets the
// execution's timeout: a value given wins, then the action's own timeout,
// then the parameter's default; attune's own runners keep the action's.
func TestRunnerTimeout(t *testing.T) {
	t.Parallel()
	st2 := &ent.Action{RunnerName: "python-script"}
	require.Equal(t, 600, runnerTimeout(st2, nil, map[string]any{"timeout": 600.0}))
	require.Equal(t, 5, runnerTimeout(st2, map[string]any{"timeout": json.Number("5")}, map[string]any{"timeout": 5}))
	require.Equal(t, 30, runnerTimeout(&ent.Action{RunnerName: "python-script", TimeoutSeconds: 30}, nil,
		map[string]any{"timeout": 600}))
	require.Equal(t, 7, runnerTimeout(&ent.Action{RunnerName: "local-shell-cmd"}, map[string]any{"timeout": 7.0}, nil))
	require.Equal(t, 0, runnerTimeout(st2, nil, map[string]any{"timeout": 1.5}), "not whole seconds: the server default")
	require.Equal(t, 12, runnerTimeout(&ent.Action{RunnerName: "python", TimeoutSeconds: 12},
		map[string]any{"timeout": 99}, nil), "attune's own runners have no timeout parameter")
}
