package execution

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/runner"
)

// TestLocalResult pins StackStorm's local runner result: one trailing
// newline stripped, JSON output decoded, -9 and an error on timeout.
func TestLocalResult(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		res  runner.Result
		want string
	}{
		{"success", runner.Result{Stdout: "hello\n\n", Stderr: "warn\r\n"},
			`{"stdout":"hello\n","stderr":"warn","return_code":0,"succeeded":true,"failed":false}`},
		{"failure", runner.Result{ExitCode: 3, Stdout: "", Stderr: "boom\n"},
			`{"stdout":"","stderr":"boom","return_code":3,"succeeded":false,"failed":true}`},
		{"JSON output is decoded", runner.Result{Stdout: "{\"a\": [1, 2.5, 12345678901234567890]}\n", Stderr: "42\n"},
			`{"stdout":{"a":[1,2.5,12345678901234567890]},"stderr":42,"return_code":0,"succeeded":true,"failed":false}`},
		{"JSON scalars and near misses", runner.Result{Stdout: "null\n", Stderr: "{\"a\": 1} trailing\n"},
			`{"stdout":null,"stderr":"{\"a\": 1} trailing","return_code":0,"succeeded":true,"failed":false}`},
		{"timeout", runner.Result{TimedOut: true, ExitCode: -1, Signal: 15, Stdout: "partial\n"},
			`{"stdout":"partial","stderr":"","return_code":-9,"succeeded":false,"failed":true,"error":"Action failed to complete in 7 seconds"}`},
		{"killed by a signal", runner.Result{ExitCode: -1, Signal: 9},
			`{"stdout":"","stderr":"","return_code":-9,"succeeded":false,"failed":true}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(shapeResult("local-shell-script", tt.res, 7))
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(got))
		})
	}
}

// TestCheckImmutable: any value given for an immutable parameter is
// refused with BAD_USER_INPUT naming every such parameter.
func TestCheckImmutable(t *testing.T) {
	t.Parallel()
	schema := param.Schema{"cmd": {Type: param.TypeString, Immutable: true, Default: "echo"},
		"sudo": {Type: param.TypeBoolean, Immutable: true}, "x": {Type: param.TypeString}}
	require.NoError(t, checkImmutable("p.a", schema, map[string]any{"x": "y"}))
	err := checkImmutable("p.a", schema, map[string]any{"sudo": false, "cmd": "echo", "x": "y"})
	ae, ok := apperr.As(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, apperr.BadUserInput, ae.Code)
	require.Equal(t, "invalid parameters for p.a: cmd: is immutable: it keeps its default and cannot be given; sudo: is immutable: it keeps its default and cannot be given", ae.Message)
}
