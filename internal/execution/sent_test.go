package execution

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent"
)

func TestSentRows(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	row := func(id int, d time.Duration) *ent.Execution {
		return &ent.Execution{ID: id, Status: Scheduled, UpdatedAt: at.Add(d)}
	}
	s := newSentRows(2)
	a := row(1, 0)
	require.True(t, s.fresh(a))
	s.add(a)
	require.False(t, s.fresh(row(1, 0)), "the same version again")
	running := &ent.Execution{ID: 1, Status: Running, UpdatedAt: at}
	require.True(t, s.fresh(running), "a new status is a new version")
	require.True(t, s.fresh(row(1, time.Microsecond)), "a new updated_at is a new version")

	// Two more executions sent to: the first, least recent, is forgotten
	// (a repeat then costs a duplicate, never a missed change).
	s.add(row(2, 0))
	require.False(t, s.fresh(row(1, 0)))
	s.add(row(3, 0))
	require.True(t, s.fresh(row(1, 0)))
	require.False(t, s.fresh(row(2, 0)))
	require.False(t, s.fresh(row(3, 0)))
	// Sending to 2 again keeps it past its older slot.
	s.add(row(2, 0))
	s.add(row(4, 0))
	require.False(t, s.fresh(row(2, 0)))
	require.True(t, s.fresh(row(3, 0)))
}
