package notify

import (
	"context"
	"slices"
)

// Watch reads the rows the bus announces under kind, in id order, and
// sends those load accepts.
func Watch[T any](ctx context.Context, bus *Bus, kind string, load func(context.Context, int) (T, bool)) <-chan T {
	sub := bus.Subscribe(func(ev Event) bool { return ev.Kind == kind })
	out := make(chan T)
	go func() {
		defer close(out)
		defer sub.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.Ready():
			}
			var ids []int
			for _, ev := range sub.Take() {
				if ev.Kind == kind {
					ids = append(ids, ev.ID)
				}
			}
			slices.Sort(ids)
			for _, id := range ids {
				row, ok := load(ctx, id)
				if !ok {
					continue
				}
				select {
				case out <- row:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
