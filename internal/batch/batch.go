// Package batch sends work in batches without timers: whatever is added
// while a batch is being sent forms the next one. At low load every item
// goes alone and at once; under load one send serves many items.
package batch

import "sync"

// Sender hands added items to Send, batch after batch, in one goroutine at
// a time, started when the first item arrives and ended when none are
// left. Add never waits for the send: Sender is for announcements that may
// follow their cause, not for work a caller must see done.
type Sender[T any] struct {
	// Send sends one batch, in the order the items were added. It must
	// handle its own errors.
	Send func(items []T)

	mu      sync.Mutex
	pending []T
	running bool
}

// Add queues v for the next batch.
func (s *Sender[T]) Add(v T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = append(s.pending, v)
	if !s.running {
		s.running = true
		go s.run()
	}
}

func (s *Sender[T]) run() {
	for {
		s.mu.Lock()
		items := s.pending
		s.pending = nil
		if len(items) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		s.Send(items)
	}
}
