package inquiry

import (
	"context"
	"sync/atomic"

	"github.com/attune-io/attune/ent"
	entinq "github.com/attune-io/attune/ent/inquiry"
	"github.com/attune-io/attune/internal/notify"
)

// WatchCreated streams inquiries as they are created on any node, those
// ctx's principal may read, until ctx ends.
func (s *Service) WatchCreated(ctx context.Context) <-chan *ent.Inquiry {
	return notify.Watch(ctx, s.bus, notify.InquiryCreated, func(ctx context.Context, id int) (*ent.Inquiry, bool) {
		inq, err := s.db.Ent.Inquiry.Get(ctx, id)
		return inq, err == nil
	})
}

// WatchUpdated streams inquiries as they end (answered, timed out,
// canceled). With id, inquiry id's current state comes first and the
// stream ends once it is no longer PENDING; NOT_FOUND when ctx's principal
// may not read it.
func (s *Service) WatchUpdated(ctx context.Context, id *int) (<-chan *ent.Inquiry, error) {
	if id == nil {
		return notify.Watch(ctx, s.bus, notify.InquiryUpdated, func(ctx context.Context, id int) (*ent.Inquiry, bool) {
			inq, err := s.db.Ent.Inquiry.Get(ctx, id)
			return inq, err == nil
		}), nil
	}
	// Subscribed before the first read: no change falls between them.
	ctx, cancel := context.WithCancel(ctx)
	var want atomic.Int64
	changes := notify.Watch(ctx, s.bus, notify.InquiryUpdated, func(ctx context.Context, got int) (int, bool) {
		return got, int64(got) == want.Load()
	})
	first, err := s.Get(ctx, *id)
	if err != nil {
		cancel()
		return nil, err
	}
	want.Store(int64(first.ID))
	out := make(chan *ent.Inquiry)
	go func() {
		defer cancel()
		defer close(out)
		inq := first
		for {
			select {
			case out <- inq:
			case <-ctx.Done():
				return
			}
			if inq.Status != entinq.StatusPENDING {
				return
			}
			select {
			case <-changes:
			case <-ctx.Done():
				return
			}
			next, err := s.db.Ent.Inquiry.Get(ctx, first.ID)
			if err != nil {
				return
			}
			inq = next
		}
	}()
	return out, nil
}
