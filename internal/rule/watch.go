package rule

import (
	"context"
	"slices"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/internal/notify"
)

// WatchEvents streams events as they are stored on any node, only those of
// triggerRef when it is not empty, until ctx ends. Events stored while the
// bus reconnects may be missed; the stream is a live view, not a log.
func (e *Engine) WatchEvents(ctx context.Context, triggerRef string) <-chan *ent.Event {
	return watch(ctx, e.bus, notify.EventCreated, func(ctx context.Context, id int) (*ent.Event, bool) {
		ev, err := e.db.Ent.Event.Get(ctx, id)
		return ev, err == nil && (triggerRef == "" || ev.TriggerRef == triggerRef)
	})
}

// WatchEnforcements streams enforcements as they are stored on any node,
// only those of ruleRef when it is not empty, until ctx ends.
func (e *Engine) WatchEnforcements(ctx context.Context, ruleRef string) <-chan *ent.Enforcement {
	return watch(ctx, e.bus, notify.EnforcementCreated, func(ctx context.Context, id int) (*ent.Enforcement, bool) {
		enf, err := e.db.Ent.Enforcement.Get(ctx, id)
		return enf, err == nil && (ruleRef == "" || enf.RuleRef == ruleRef)
	})
}

// watch reads the rows the bus announces under kind, in id order, and
// sends those load accepts.
func watch[T any](ctx context.Context, bus *notify.Bus, kind string, load func(context.Context, int) (T, bool)) <-chan T {
	sub := bus.Subscribe(func(ev notify.Event) bool { return ev.Kind == kind })
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
