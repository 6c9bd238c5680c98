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
	// Tree, if set, watches a workflow and everything under it: the
	// execution and its descendants as they stand come first, then each
	// change in the tree (children as they are created, grandchildren of
	// nested workflows too); the stream ends after the workflow finishes.
	Tree *int
	// Shape, if set, shapes each read of changed executions: the GraphQL
	// layer eager-loads the edges the subscription selects, one query per
	// batch of changes for each instead of one per execution sent. It must
	// not narrow the columns read: the filter needs status and action_ref.
	Shape func(*ent.ExecutionQuery)
}

func (f UpdateFilter) match(e *ent.Execution) bool {
	return (len(f.Statuses) == 0 || slices.Contains(f.Statuses, e.Status)) &&
		(f.ActionRef == "" || f.ActionRef == e.ActionRef)
}

// hintedChunk bounds the ids of one query of hinted.
const hintedChunk = 500

// Updates streams executions as their status or results change, until ctx
// ends (or, with f.ID, until the execution finishes). Changes made on any
// node arrive. Rapid changes may coalesce: each value is the row as read
// after the change, and each version of a row is sent once (see sentRows).
// Returns NOT_FOUND when f.ID does not exist.
func (s *Service) Updates(ctx context.Context, f UpdateFilter) (<-chan *ent.Execution, error) {
	if f.Tree != nil {
		return s.treeUpdates(ctx, f)
	}
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
		sent := newSentRows(sentRowsKept)
		send := func(e *ent.Execution) bool {
			if !f.match(e) || !sent.fresh(e) {
				return true
			}
			select {
			case ch <- e:
				sent.add(e)
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
			rows, err := s.hinted(ctx, sub.Take(), f)
			if err != nil {
				s.log.Warn("reading executions for subscribers", "error", err)
				continue
			}
			for _, e := range rows {
				if !send(e) {
					return
				}
			}
		}
	}()
	return ch, nil
}

// treeUpdates is Updates for f.Tree.
func (s *Service) treeUpdates(ctx context.Context, f UpdateFilter) (<-chan *ent.Execution, error) {
	root := *f.Tree
	sub := s.bus.Subscribe(func(ev notify.Event) bool { return ev.Kind == notify.Status })
	first, err := s.get(ctx, root)
	if err != nil {
		sub.Close()
		return nil, err
	}
	// The tree as it stands, level by level.
	tree := map[int]bool{root: true}
	initial := []*ent.Execution{first}
	for level := []int{root}; len(level) > 0; {
		q := s.db.Ent.Execution.Query().Where(execution.ParentIDIn(level...)).Order(ent.Asc(execution.FieldID))
		if f.Shape != nil {
			f.Shape(q)
		}
		kids, err := q.All(ctx)
		if err != nil {
			sub.Close()
			return nil, err
		}
		level = level[:0:0]
		for _, k := range kids {
			if !tree[k.ID] {
				tree[k.ID] = true
				level = append(level, k.ID)
				initial = append(initial, k)
			}
		}
	}
	ch := make(chan *ent.Execution)
	go func() {
		defer close(ch)
		defer sub.Close()
		sent := newSentRows(sentRowsKept)
		rootDone := false
		send := func(e *ent.Execution) bool {
			if !f.match(e) || !sent.fresh(e) {
				return true
			}
			select {
			case ch <- e:
				sent.add(e)
			case <-ctx.Done():
				return false
			}
			if e.ID == root && Finished(e.Status) {
				rootDone = true
			}
			return true
		}
		for _, e := range initial {
			if !send(e) {
				return
			}
		}
		for !rootDone {
			select {
			case <-ctx.Done():
				return
			case <-sub.Ready():
			}
			rows, err := s.hinted(ctx, sub.Take(), UpdateFilter{ID: &root, Shape: f.Shape})
			if err != nil {
				s.log.Warn("reading executions for subscribers", "error", err)
				continue
			}
			// Parents come before their children (ids grow), so one pass
			// adopts a new child and then its own children.
			slices.SortFunc(rows, func(a, b *ent.Execution) int { return a.ID - b.ID })
			for _, e := range rows {
				if !tree[e.ID] && (e.ParentID == nil || !tree[*e.ParentID]) {
					continue
				}
				tree[e.ID] = true
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

// hinted reads the executions that hints name, each once and in the order
// first hinted, by primary key, hintedChunk at a time: under load a
// subscriber takes many hints at a time (an execution's RUNNING and
// SUCCEEDED often together), and reading them one by one cost a query per
// hint. f is applied by the caller, not in SQL: with f's action and
// statuses in the WHERE clause, SQLite (no statistics) judged the index on
// action_ref cheaper than more than about 40 primary-key lookups and read
// every execution of the action, 5 ms a batch at 20,000 of them, so a
// subscriber that fell behind took larger batches that cost more still.
func (s *Service) hinted(ctx context.Context, hints []notify.Event, f UpdateFilter) ([]*ent.Execution, error) {
	ids := make([]int, 0, len(hints))
	seen := make(map[int]bool, len(hints))
	for _, ev := range hints {
		id := ev.ID
		if ev.Kind == notify.Resync {
			if f.ID == nil {
				continue
			}
			id = *f.ID
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []*ent.Execution
	for chunk := range slices.Chunk(ids, hintedChunk) {
		q := s.db.Ent.Execution.Query().Where(execution.IDIn(chunk...))
		if f.Shape != nil {
			f.Shape(q)
		}
		part, err := q.All(ctx)
		if err != nil {
			return nil, err
		}
		rows = append(rows, part...)
	}
	byID := make(map[int]*ent.Execution, len(rows))
	for _, e := range rows {
		byID[e.ID] = e
	}
	out := rows[:0]
	for _, id := range ids {
		if e := byID[id]; e != nil {
			out = append(out, e)
		}
	}
	return out, nil
}
