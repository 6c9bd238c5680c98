package execution

import (
	"context"
	"sync"
)

// group batches work (group commit): whichever caller finds no batch under
// way runs fn for everything pending, its own item included, while later
// callers queue for the next batch; each caller returns once the batch
// holding its item ran. No timer: at low load every item runs alone, at
// once. fn reports results through the items (pointers).
type group[T any] struct {
	fn func(ctx context.Context, batch []T)

	mu      sync.Mutex
	pending []*groupMember[T]
	busy    bool
}

type groupMember[T any] struct {
	v    T
	wake chan struct{} // closed when v's batch ran, or lead is set
	lead bool          // this member runs the next batch
}

// do runs fn on v, in a batch with whatever else is pending.
func (g *group[T]) do(ctx context.Context, v T) {
	m := &groupMember[T]{v: v, wake: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, m)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	if !lead {
		<-m.wake
		if !m.lead {
			return
		}
	}
	g.mu.Lock()
	batch := g.pending
	g.pending = nil
	g.mu.Unlock()
	vs := make([]T, len(batch))
	for i, b := range batch {
		vs[i] = b.v
	}
	g.fn(ctx, vs)
	for _, b := range batch {
		if b != m && !b.lead {
			close(b.wake)
		}
	}
	g.mu.Lock()
	if len(g.pending) > 0 {
		next := g.pending[0]
		next.lead = true
		close(next.wake)
	} else {
		g.busy = false
	}
	g.mu.Unlock()
}
