package execution

import (
	"time"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/execution"
)

// sentRowsKept bounds the executions an Updates stream remembers.
const sentRowsKept = 1024

// sentRows remembers the version (status and updated_at) of the rows an
// Updates stream last sent, so that it sends each version once. Hints
// are not versions: the row is read when a hint arrives, and two hints
// can find the same version. On PostgreSQL an execution's SCHEDULED and
// RUNNING are announced after their commits, in batches, so a subscriber
// that read the SCHEDULED row at subscription then re-read it on the
// late announcement of that same SCHEDULED, or read RUNNING on the late
// SCHEDULED hint and again on RUNNING's own. A real change always writes
// status (every update of an execution is a transition) and updated_at,
// so it is never taken for a version already sent.
//
// It keeps the sentRowsKept executions sent to most recently: a repeat
// hint follows its change closely, and forgetting an older execution
// costs at worst a repeat, never a missed change.
type sentRows struct {
	last map[int]sentVersion
	ring []sentSlot
	next int
	seq  uint64
}

type sentVersion struct {
	status    execution.Status
	updatedAt time.Time
	seq       uint64 // of the send that recorded it, to match its ring slot
}

type sentSlot struct {
	id  int
	seq uint64
}

func newSentRows(keep int) *sentRows {
	return &sentRows{last: make(map[int]sentVersion, keep), ring: make([]sentSlot, keep)}
}

// fresh reports whether e is a version of its row not sent yet.
func (s *sentRows) fresh(e *ent.Execution) bool {
	v, ok := s.last[e.ID]
	return !ok || v.status != e.Status || !v.updatedAt.Equal(e.UpdatedAt)
}

// add records e as sent, forgetting the execution least recently sent
// to when sentRowsKept are remembered.
func (s *sentRows) add(e *ent.Execution) {
	s.seq++
	if old := s.ring[s.next]; old.seq != 0 {
		if v, ok := s.last[old.id]; ok && v.seq == old.seq {
			delete(s.last, old.id)
		}
	}
	s.ring[s.next] = sentSlot{id: e.ID, seq: s.seq}
	s.next = (s.next + 1) % len(s.ring)
	s.last[e.ID] = sentVersion{status: e.Status, updatedAt: e.UpdatedAt, seq: s.seq}
}
