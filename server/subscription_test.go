package main

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
)

// statusOrder is the order an execution's statuses come in.
var statusOrder = []string{"REQUESTED", "SCHEDULED", "RUNNING", "CANCELING",
	"SUCCEEDED", "FAILED", "TIMEOUT", "CANCELED", "ABANDONED"}

// TestExecutionUpdatedSendsEachStatusOnce subscribes to each of a run of
// executions right after requesting it, when the announcement of its
// SCHEDULED may still be on its way: each status arrives once, in order.
func TestExecutionUpdatedSendsEachStatusOnce(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startOn(t, backend)
		for range 30 {
			id := execute(t, s, "core.echo", map[string]any{"message": "once"})
			states := follow(t, s, id)
			got := make([]string, len(states))
			for i, st := range states {
				got[i] = st.Status
			}
			require.Equal(t, "SUCCEEDED", got[len(got)-1], "execution %s: %v", id, got)
			for i := 1; i < len(got); i++ {
				require.Less(t, slices.Index(statusOrder, got[i-1]), slices.Index(statusOrder, got[i]),
					"execution %s sent %v: each status once, in order", id, got)
			}
		}
	})
}
