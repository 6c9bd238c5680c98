package main

import (
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
)

// finished is an execution as a newcomer reads it once it is over.
type finished struct {
	Status   string          `json:"status"`
	Stdout   string          `json:"stdout"`
	Stderr   string          `json:"stderr"`
	Error    string          `json:"error"`
	ExitCode *int            `json:"exitCode"`
	Result   json.RawMessage `json:"result"`
}

// runToEnd runs the action ref with params on s (with s.token, if any),
// follows it until it finishes and returns what was stored.
func runToEnd(t *testing.T, s *server, ref string, params map[string]any) finished {
	t.Helper()
	id := execute(t, s, ref, params)
	follow(t, s, id)
	var out struct{ Node finished }
	client(s, s.token).Must(t, `query($id: ID!) { node(id: $id) { ... on Execution {
		status stdout stderr error exitCode result } } }`, map[string]any{"id": id}, &out)
	return out.Node
}

// TestReadmeFirstActionLikeMakeRun runs the README's first action on a
// server started as `make run` starts it: relative data directory, auth on.
func TestReadmeFirstActionLikeMakeRun(t *testing.T) {
	t.Parallel()
	want, err := exec.Command("uname", "-a").Output()
	require.NoError(t, err)
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		got := runToEnd(t, s, "core.local", map[string]any{"cmd": "uname -a"})
		require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
		require.Equal(t, string(want), got.Stdout)
		require.Empty(t, got.Error)
	})
}
