package execution

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGroup runs items from many goroutines: each runs exactly once, in
// some batch, before its do returns, and batches never overlap.
func TestGroup(t *testing.T) {
	t.Parallel()
	type item struct{ ran int }
	var running, batches, overlaps, early atomic.Int32
	g := group[*item]{fn: func(_ context.Context, batch []*item) {
		if running.Add(1) != 1 {
			overlaps.Add(1)
		}
		batches.Add(1)
		for _, it := range batch {
			it.ran++
		}
		running.Add(-1)
	}}
	const n = 200
	items := make([]*item, n)
	var wg sync.WaitGroup
	for i := range items {
		items[i] = &item{}
		wg.Go(func() {
			g.do(t.Context(), items[i])
			if items[i].ran != 1 {
				early.Add(1) // do returned before its batch ran
			}
		})
	}
	wg.Wait()
	require.Zero(t, overlaps.Load(), "batches overlapped")
	require.Zero(t, early.Load(), "do returned before its item ran")
	for _, it := range items {
		require.Equal(t, 1, it.ran)
	}
	require.LessOrEqual(t, batches.Load(), int32(n))
	require.False(t, g.busy)
	require.Empty(t, g.pending)
}
