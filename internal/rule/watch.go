package rule

import (
	"context"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/internal/notify"
)

// WatchEvents streams events as they are stored on any node, only those of
// triggerRef when it is not empty, until ctx ends. Events stored while the
// bus reconnects may be missed; the stream is a live view, not a log.
func (e *Engine) WatchEvents(ctx context.Context, triggerRef string) <-chan *ent.Event {
	return notify.Watch(ctx, e.bus, notify.EventCreated, func(ctx context.Context, id int) (*ent.Event, bool) {
		ev, err := e.db.Ent.Event.Get(ctx, id)
		return ev, err == nil && (triggerRef == "" || ev.TriggerRef == triggerRef)
	})
}

// WatchEnforcements streams enforcements as they are stored on any node,
// only those of ruleRef when it is not empty, until ctx ends.
func (e *Engine) WatchEnforcements(ctx context.Context, ruleRef string) <-chan *ent.Enforcement {
	return notify.Watch(ctx, e.bus, notify.EnforcementCreated, func(ctx context.Context, id int) (*ent.Enforcement, bool) {
		enf, err := e.db.Ent.Enforcement.Get(ctx, id)
		return enf, err == nil && (ruleRef == "" || enf.RuleRef == ruleRef)
	})
}
