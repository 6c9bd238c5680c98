package execution

import (
	"context"
	"slices"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/ent/executionoutput"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/notify"
)

// outputPage bounds the lines read per query while streaming.
const outputPage = 500

// UpdateFilter selects the executions Updates reports.
type UpdateFilter struct {
	// ID watches one execution: its current state comes first, and the
	// stream ends after it finishes.
	ID *int
	// Statuses, if set, reports only changes into these statuses.
	Statuses []execution.Status
	// ActionRef, if set, reports only executions of this action.
	ActionRef string
}

func (f UpdateFilter) match(e *ent.Execution) bool {
	return (len(f.Statuses) == 0 || slices.Contains(f.Statuses, e.Status)) &&
		(f.ActionRef == "" || f.ActionRef == e.ActionRef)
}

// Updates streams executions as their status or results change, until ctx
// ends (or, with f.ID, until the execution finishes). Changes made on any
// node arrive. Rapid changes may coalesce: each value is the row as read
// after the change. Returns NOT_FOUND when f.ID does not exist.
func (s *Service) Updates(ctx context.Context, f UpdateFilter) (<-chan *ent.Execution, error) {
	sub := s.bus.Subscribe(func(ev notify.Event) bool {
		return ev.Kind == notify.Status && (f.ID == nil || ev.ID == *f.ID)
	})
	var first *ent.Execution
	if f.ID != nil {
		e, err := s.get(ctx, *f.ID)
		if err != nil {
			sub.Close()
			return nil, err
		}
		first = e
	}
	ch := make(chan *ent.Execution)
	go func() {
		defer close(ch)
		defer sub.Close()
		send := func(e *ent.Execution) bool {
			if !f.match(e) {
				return true
			}
			select {
			case ch <- e:
				return f.ID == nil || !Finished(e.Status)
			case <-ctx.Done():
				return false
			}
		}
		if first != nil && !send(first) {
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.Ready():
			}
			for _, ev := range sub.Take() {
				id := ev.ID
				if ev.Kind == notify.Resync {
					if f.ID == nil {
						continue
					}
					id = *f.ID
				}
				e, err := s.db.Ent.Execution.Get(ctx, id)
				if err != nil {
					if !ent.IsNotFound(err) {
						s.log.Warn("reading execution for subscribers", "execution_id", id, "error", err)
					}
					continue
				}
				if !send(e) {
					return
				}
			}
		}
	}()
	return ch, nil
}

// Output streams execution id's output lines from line number from (0 is
// the first line), live as they are stored, and ends once the execution has
// finished and every line was sent. Returns NOT_FOUND for an unknown id.
func (s *Service) Output(ctx context.Context, id, from int) (<-chan *ent.ExecutionOutput, error) {
	sub := s.bus.Subscribe(func(ev notify.Event) bool {
		return ev.ID == id && (ev.Kind == notify.Output || ev.Kind == notify.Status)
	})
	if _, err := s.get(ctx, id); err != nil {
		sub.Close()
		return nil, err
	}
	if from < 0 {
		sub.Close()
		return nil, apperr.Errorf(apperr.BadUserInput, "from must not be negative")
	}
	ch := make(chan *ent.ExecutionOutput)
	go func() {
		defer close(ch)
		defer sub.Close()
		next := from
		for {
			// The status is read before the lines: a worker stores every
			// line before it records the final status, so once that status
			// is seen, the lines read after it are all there are.
			e, err := s.db.Ent.Execution.Get(ctx, id)
			if err != nil {
				return
			}
			for {
				lines, err := s.db.Ent.ExecutionOutput.Query().
					Where(executionoutput.ExecutionID(id), executionoutput.SeqGTE(next)).
					Order(ent.Asc(executionoutput.FieldSeq)).Limit(outputPage).All(ctx)
				if err != nil {
					return
				}
				for _, l := range lines {
					select {
					case ch <- l:
						next = l.Seq + 1
					case <-ctx.Done():
						return
					}
				}
				if len(lines) < outputPage {
					break
				}
			}
			if Finished(e.Status) {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-sub.Ready():
				sub.Take()
			}
		}
	}()
	return ch, nil
}
