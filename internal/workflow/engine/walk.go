package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"entgo.io/ent/dialect"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/ent/workflowexecution"
	xexec "github.com/attune-io/attune/internal/execution"
	"github.com/attune-io/attune/internal/jinja"
	"github.com/attune-io/attune/internal/store"
	"github.com/attune-io/attune/internal/workflow/expr"
	"github.com/attune-io/attune/internal/workflow/spec"
)

// maxLaunches bounds the task runs one step starts, so that a loop of
// tasks without actions cannot spin forever inside a transaction.
const maxLaunches = 10_000

// walk is one step of one workflow, inside its transaction.
type walk struct {
	e       *Engine
	wf      *spec.Workflow
	st      *state
	execID  int
	wfID    int
	packRef string
	// user is who requested the workflow: its tasks' requester, and
	// ctx().st2.user.
	user string
	ctx  context.Context
	tx   *store.Tx
	// status is the workflow execution's status as the step began.
	status execution.Status

	launches int
	config   map[string]any
	cfgRead  bool
	// nextDue is the earliest delayed run's start, for wakeAt.
	nextDue time.Time
	// err is a store error met deep in the walk; the step fails with it.
	err error
	// secretsKept tells that the workflow's secret parameters are sealed
	// in the database already (the step read them there).
	secretsKept bool
}

// evaluator is the expression evaluator of the workflow's language.
func (w *walk) evaluator() *expr.Evaluator { return expr.New(w.wf.Language, w.e.jinja) }

// scope is what expressions see now; cur is the run being judged, if any.
func (w *walk) scope(cur *taskRun) *expr.Scope {
	if !w.cfgRead && w.e.opts.Config != nil {
		w.cfgRead = true
		if c, err := w.e.opts.Config(w.ctx, w.packRef); err == nil {
			w.config = c
		}
	}
	sc := &expr.Scope{
		Vars:       w.st.Vars,
		Parameters: w.st.Params,
		Tasks:      w.st.tasks(),
		Config:     w.config,
		St2: map[string]any{
			"action_execution_id":   strconv.Itoa(w.execID),
			"workflow_execution_id": strconv.Itoa(w.wfID),
			"api_url":               w.e.opts.APIURL,
			"pack":                  w.packRef,
			"user":                  w.user,
		},
	}
	if w.e.opts.KV != nil {
		sc.KV = func(key string, decrypt bool) (any, error) {
			return w.e.opts.KV(w.ctx, w.packRef, w.user, key, decrypt)
		}
	}
	if cur != nil {
		sc.Current = &expr.TaskState{Status: exprStatus(cur.Status), Result: cur.exprResult()}
		sc.CurrentName = cur.Task
	}
	return sc
}

// init renders the workflow's input defaults and vars into the state.
func (w *walk) init() error {
	ev := w.evaluator()
	if w.wf.Language == spec.Orquesta {
		for _, p := range w.wf.Input {
			if v, ok := w.st.Params[p.Name]; ok {
				w.st.Vars[p.Name] = v
				continue
			}
			if !p.HasDefault {
				w.st.Vars[p.Name] = nil
				continue
			}
			v, err := ev.Render(p.Default, w.scope(nil))
			if err != nil {
				return fmt.Errorf("%s:%d: input %s: %w", w.wf.File, p.Line, p.Name, err)
			}
			w.st.Vars[p.Name] = v
		}
		w.st.Vars["st2"] = w.scope(nil).St2
	}
	for _, a := range w.wf.Vars {
		v, err := ev.Render(a.Value, w.scope(nil))
		if err != nil {
			return fmt.Errorf("%s:%d: vars %s: %w", w.wf.File, a.Line, a.Name, err)
		}
		w.st.Vars[a.Name] = v
	}
	return nil
}

// fail marks the workflow failing with an error.
func (w *walk) fail(task, msg string, result any) {
	w.st.Failing = true
	e := map[string]any{"type": "error", "message": msg}
	if task != "" {
		e["task_id"] = task
	}
	if result != nil {
		e["result"] = result
	}
	w.st.Errors = append(w.st.Errors, e)
}

// canStart reports whether new task runs may start now.
func (w *walk) canStart() bool {
	return !w.st.Failing && w.status != execution.StatusCANCELING
}

// schedule creates a run of task name, reached from task `from` ("" at
// the start), honouring joins, delays and a pause.
func (w *walk) schedule(name, from string) {
	t := w.wf.Tasks[name]
	if t == nil {
		w.fail(from, fmt.Sprintf("task %q does not exist", name), nil)
		return
	}
	if t.Join != nil && from != "" {
		if w.st.Joins == nil {
			w.st.Joins = map[string]*joinState{}
		}
		j := w.st.Joins[name]
		if j == nil {
			j = &joinState{}
			w.st.Joins[name] = j
		}
		if j.Fired {
			return
		}
		seen := false
		for _, a := range j.Arrived {
			seen = seen || a == from
		}
		if !seen {
			j.Arrived = append(j.Arrived, from)
		}
		need := t.Join.Count
		if t.Join.All {
			need = len(t.Inbound)
		}
		if len(j.Arrived) < need {
			return
		}
		j.Fired = true
	}
	if !w.canStart() {
		return
	}
	r := &taskRun{ID: len(w.st.Runs) + 1, Task: name, Status: execution.StatusSCHEDULED, Started: w.now()}
	w.st.Runs = append(w.st.Runs, r)
	w.begin(r, t.Delay)
}

// begin starts run r after delay (a task's delay or a retry's), or defers
// it while the workflow pauses.
func (w *walk) begin(r *taskRun, delay *spec.Number) {
	if delay != nil {
		d, err := w.number(*delay, r)
		if err != nil {
			w.end(r, execution.StatusFAILED, nil, fmt.Sprintf("delay: %v", err))
			return
		}
		if d > 0 {
			at := w.now().Add(time.Duration(d) * time.Second)
			r.StartAt = &at
			r.Status = execution.StatusSCHEDULED
			if err := w.e.queue.InsertWorkflowTx(w.ctx, w.tx, w.execID, at); err != nil && w.err == nil {
				w.err = err
			}
			w.due(at)
			return
		}
	}
	if w.status == execution.StatusPAUSING || w.status == execution.StatusPAUSED {
		r.Deferred = true
		r.Status = execution.StatusSCHEDULED
		return
	}
	w.launch(r)
}

func (w *walk) due(at time.Time) {
	if w.nextDue.IsZero() || at.Before(w.nextDue) {
		w.nextDue = at
	}
}

// number renders a spec number.
func (w *walk) number(n spec.Number, r *taskRun) (int64, error) {
	if n.Expr == "" {
		return n.Value, nil
	}
	v, err := w.evaluator().Render(n.Expr, w.scope(r))
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case float64:
		return int64(x), nil
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, fmt.Errorf("%s is not a number: %v", n.Expr, v)
}

// launch starts run r: its child execution, its items, or (a task
// without action) its end at once.
func (w *walk) launch(r *taskRun) {
	r.StartAt, r.Deferred = nil, false
	w.launches++
	if w.launches > maxLaunches {
		w.end(r, execution.StatusFAILED, nil, fmt.Sprintf("more than %d task runs started in one step: a loop of tasks without actions?", maxLaunches))
		return
	}
	t := w.wf.Tasks[r.Task]
	r.Status = execution.StatusRUNNING
	if t.Guard != "" {
		ok, err := w.evaluator().Truth(t.Guard, w.scope(nil))
		if err != nil {
			w.end(r, execution.StatusFAILED, nil, fmt.Sprintf("when: %v", err))
			return
		}
		if !ok {
			w.end(r, execution.StatusSUCCEEDED, nil, "")
			return
		}
	}
	if t.Action == "" {
		w.end(r, execution.StatusSUCCEEDED, nil, "")
		return
	}
	if t.Items != nil {
		items := t.Items.Literal
		if t.Items.Expr != "" {
			v, err := w.evaluator().Render(t.Items.Expr, w.scope(nil))
			if err != nil {
				w.end(r, execution.StatusFAILED, nil, fmt.Sprintf("with items: %v", err))
				return
			}
			list, ok := v.([]any)
			if !ok {
				w.end(r, execution.StatusFAILED, nil, fmt.Sprintf("with items: %s is not a list: %v", t.Items.Expr, v))
				return
			}
			items = list
		}
		r.HasItems, r.Items, r.Next, r.ItemFailed = true, items, 0, false
		if len(items) == 0 {
			w.end(r, execution.StatusSUCCEEDED, []any{}, "")
			return
		}
		w.moreItems(r)
		if r.Status == execution.StatusRUNNING && r.Active == 0 {
			w.endItems(r) // every item kept by a re-run, or none could start
		}
		return
	}
	w.child(r, nil)
}

// moreItems starts r's next items up to its concurrency.
func (w *walk) moreItems(r *taskRun) {
	t := w.wf.Tasks[r.Task]
	limit := len(r.Items)
	if t.Items.Concurrency != nil {
		n, err := w.number(*t.Items.Concurrency, r)
		if err == nil && n > 0 {
			limit = int(n)
		}
	}
	for {
		for r.Next < len(r.Items) && r.Kept != nil {
			if _, kept := r.Kept[r.Next]; !kept {
				break
			}
			r.Next++
		}
		if !(r.Next < len(r.Items) && r.Active < limit && !r.ItemFailed && w.canStart() &&
			w.status != execution.StatusPAUSING && w.status != execution.StatusPAUSED) {
			break
		}
		i := r.Next
		r.Next++
		w.child(r, &i)
	}
}

// child requests the child execution of run r (item *item, if any). A
// child that cannot be requested (an expression or its parameters fail)
// ends the run FAILED with the cause.
func (w *walk) child(r *taskRun, item *int) {
	t := w.wf.Tasks[r.Task]
	sc := w.scope(nil)
	if item != nil {
		sc.HasItem, sc.Item, sc.Index = true, r.Items[*item], *item
		if len(t.Items.Vars) > 0 {
			// Orquesta's TaskSpec.render: a list item is zipped with the
			// names, any other item is the value of a single name.
			sc.ItemVars = map[string]any{}
			if vals, ok := sc.Item.([]any); ok {
				for i, name := range t.Items.Vars {
					if i < len(vals) {
						sc.ItemVars[name] = vals[i]
					}
				}
			} else if len(t.Items.Vars) == 1 {
				sc.ItemVars[t.Items.Vars[0]] = sc.Item
			}
			sc.Item = sc.ItemVars
		}
	}
	ev := w.evaluator()
	act, err := ev.Render(t.Action, sc)
	if err != nil {
		w.childFailed(r, fmt.Sprintf("action: %v", err))
		return
	}
	ref, ok := act.(string)
	if !ok || ref == "" {
		w.childFailed(r, fmt.Sprintf("action: %v is not an action ref", act))
		return
	}
	var input map[string]any
	if t.Input != nil {
		v, err := ev.Render(t.Input, sc)
		if err != nil {
			w.childFailed(r, fmt.Sprintf("input: %v", err))
			return
		}
		input, _ = v.(map[string]any)
	}
	req := xexec.Request{Action: ref, Parameters: input, ParentID: &w.execID, TaskName: r.Task, TaskItem: item, TaskRun: r.ID,
		CastText: w.wf.Language == spec.ActionChain, RequestedBy: w.user}
	if t.Timeout != nil {
		n, err := w.number(*t.Timeout, r)
		if err != nil {
			w.childFailed(r, fmt.Sprintf("timeout: %v", err))
			return
		}
		secs := int(n)
		req.TimeoutSeconds = &secs
	}
	p, err := w.e.exec.PrepareTx(w.ctx, w.tx, req)
	if err != nil {
		w.childFailed(r, err.Error())
		return
	}
	c, err := w.e.exec.InsertTx(w.ctx, w.tx, p, nil)
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		return
	}
	r.Active++
	r.Execution = c.ID
}

// childFailed ends run r (or, with items, marks an item failed) when its
// child could not be requested.
func (w *walk) childFailed(r *taskRun, msg string) {
	if r.HasItems {
		r.ItemFailed = true
		if r.Error == "" {
			r.Error = msg
		}
		if r.Active == 0 {
			w.endItems(r)
		}
		return
	}
	w.end(r, execution.StatusFAILED, map[string]any{"error": msg}, msg)
}

// takeEnded takes in every child that ended since the last step.
func (w *walk) takeEnded() error {
	kids, err := w.tx.Ent.Execution.Query().
		Where(execution.ParentID(w.execID), execution.TaskReported(false),
			execution.StatusIn(xexec.FinalStatuses...)).
		Select(execution.FieldID, execution.FieldStatus, execution.FieldResult, execution.FieldError,
			execution.FieldTaskRun, execution.FieldTaskItem).
		Order(ent.Asc(execution.FieldID)).All(w.ctx)
	if err != nil {
		return err
	}
	if len(kids) == 0 {
		return nil
	}
	ids := make([]int, len(kids))
	for i, k := range kids {
		ids[i] = k.ID
	}
	if err := w.tx.Ent.Execution.Update().Where(execution.IDIn(ids...)).SetTaskReported(true).Exec(w.ctx); err != nil {
		return err
	}
	for _, k := range kids {
		if k.TaskRun < 1 || k.TaskRun > len(w.st.Runs) {
			continue
		}
		r := w.st.Runs[k.TaskRun-1]
		if r.Active > 0 {
			r.Active--
		}
		if k.Status == execution.StatusCANCELED && w.status == execution.StatusRUNNING {
			// A task's action canceled by hand cancels its workflow, as in StackStorm.
			ok, err := w.e.exec.SetStatusTx(w.ctx, w.tx, w.execID, execution.StatusCANCELING, nil)
			if err != nil {
				return err
			}
			if ok {
				w.status = execution.StatusCANCELING
			}
		}
		if w.e.opts.OnTask != nil {
			w.e.opts.OnTask(string(k.Status))
		}
		if r.HasItems {
			if k.Status != execution.StatusSUCCEEDED {
				r.ItemFailed = true
				if r.Error == "" {
					r.Error = k.Error
				}
			}
			w.moreItems(r)
			if r.Active == 0 && (r.Next >= len(r.Items) || r.ItemFailed || !w.canStart()) {
				w.endItems(r)
			}
			continue
		}
		if r.Status != execution.StatusRUNNING || r.Execution != k.ID {
			continue
		}
		w.end(r, k.Status, decode(k.Result), k.Error)
	}
	return w.err
}

// endItems ends a with-items run: its result is its items' results in
// item order (the latest child of each).
func (w *walk) endItems(r *taskRun) {
	kids, err := w.tx.Ent.Execution.Query().
		Where(execution.ParentID(w.execID), execution.TaskRun(r.ID)).
		Select(execution.FieldID, execution.FieldTaskItem, execution.FieldResult, execution.FieldStatus).
		Order(ent.Asc(execution.FieldID)).All(w.ctx)
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		return
	}
	results := make([]any, len(r.Items))
	r.ItemOK = make([]bool, len(r.Items))
	for i, v := range r.Kept {
		if i < len(results) {
			results[i], r.ItemOK[i] = v, true
		}
	}
	for _, k := range kids {
		if k.TaskItem != nil && *k.TaskItem < len(results) {
			results[*k.TaskItem] = decode(k.Result)
			r.ItemOK[*k.TaskItem] = k.Status == execution.StatusSUCCEEDED
		}
	}
	r.Kept = nil
	status := execution.StatusSUCCEEDED
	if r.ItemFailed {
		status = execution.StatusFAILED
	} else if r.Next < len(r.Items) {
		status = execution.StatusCANCELED
	}
	r.Items = nil // not needed any more; keeps the state small
	w.end(r, status, results, r.Error)
}

// decode reads a child's stored result.
func decode(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil
	}
	return jinja.ContextValue(v)
}

// end records that run r ended with status: a retry if the task wants
// one, else its transitions.
func (w *walk) end(r *taskRun, status execution.Status, result any, errMsg string) {
	t := w.wf.Tasks[r.Task]
	r.Status, r.Result, r.Error = status, result, errMsg
	if t.Retry != nil && w.canStart() && w.status != execution.StatusCANCELING {
		count, err := w.number(t.Retry.Count, r)
		if err == nil && int64(r.Attempt) < count {
			want := failedStatus(status) && status != execution.StatusCANCELED
			if t.Retry.When != "" {
				want, err = w.evaluator().Truth(t.Retry.When, w.scope(r))
			}
			if err != nil {
				w.fail(r.Task, fmt.Sprintf("retry when: %v", err), nil)
			} else if want {
				r.Attempt++
				r.Result, r.Error, r.Active = nil, "", 0
				r.Status = execution.StatusSCHEDULED
				w.begin(r, t.Retry.Delay)
				return
			}
		}
	}
	now := w.now()
	r.Ended, r.Done = &now, true
	w.transitions(r)
}

// transitions evaluates run r's transitions in order: each whose
// condition holds publishes, then starts its targets.
func (w *walk) transitions(r *taskRun) {
	t := w.wf.Tasks[r.Task]
	ev := w.evaluator()
	handled := false
	for _, tr := range t.Transitions {
		ok, err := ev.Truth(tr.When, w.scope(r))
		if err != nil {
			w.fail(r.Task, fmt.Sprintf("%s:%d: when %s: %v", w.wf.File, tr.Line, tr.When, err), nil)
			return
		}
		if !ok {
			continue
		}
		for _, p := range tr.Publish {
			v, err := ev.Render(p.Value, w.scope(r))
			if err != nil {
				w.fail(r.Task, fmt.Sprintf("%s:%d: publish %s: %v", w.wf.File, p.Line, p.Name, err), nil)
				return
			}
			w.st.Vars[p.Name] = v
		}
		for _, target := range tr.Do {
			switch target.Kind {
			case spec.TargetTask:
				handled = true
				w.schedule(target.Name, r.Task)
			case spec.TargetDynamic:
				v, err := ev.Render(target.Name, w.scope(r))
				if err != nil {
					w.fail(r.Task, fmt.Sprintf("%s:%d: next task %s: %v", w.wf.File, tr.Line, target.Name, err), nil)
					return
				}
				if name, _ := v.(string); name != "" {
					handled = true
					w.schedule(name, r.Task)
				}
			case spec.TargetNoop:
				handled = true
			case spec.TargetFail:
				handled = true
				w.fail(r.Task, "Execution failed. See result for details.", r.Result)
			}
		}
	}
	if failedStatus(r.Status) && !handled && r.Status != execution.StatusCANCELED {
		msg := "Execution failed. See result for details."
		if r.Error != "" {
			msg = r.Error
		}
		w.fail(r.Task, msg, r.Result)
	}
}

// startDue starts the delayed runs whose time came, and the deferred ones
// once the workflow runs again.
func (w *walk) startDue() {
	now := w.now()
	for _, r := range w.st.Runs {
		if r.Status != execution.StatusSCHEDULED {
			continue
		}
		if r.StartAt != nil && r.StartAt.After(now) {
			w.due(*r.StartAt)
			continue
		}
		if w.status == execution.StatusPAUSING || w.status == execution.StatusPAUSED {
			r.Deferred = true
			continue
		}
		if !w.canStart() {
			r.Status = execution.StatusCANCELED
			continue
		}
		w.launch(r)
	}
	if w.status == execution.StatusRUNNING {
		for _, r := range w.st.Runs {
			if r.HasItems && r.Status == execution.StatusRUNNING {
				w.moreItems(r)
			}
		}
	}
}

func (w *walk) now() time.Time { return w.e.exec.Now() }

// finishStep cancels children of a canceling workflow, ends the workflow
// when nothing is left to wait for, and stores the state.
func (w *walk) finishStep() error {
	if w.err != nil {
		return w.err
	}
	ctx, tx := w.ctx, w.tx
	active, err := tx.Ent.Execution.Query().
		Where(execution.ParentID(w.execID), execution.StatusNotIn(xexec.FinalStatuses...)).All(ctx)
	if err != nil {
		return err
	}
	if w.status == execution.StatusCANCELING {
		for _, k := range active {
			if k.Status != execution.StatusCANCELING {
				if _, err := w.e.exec.CancelTx(ctx, tx, k); err != nil {
					return err
				}
			}
		}
		for _, r := range w.st.Runs {
			if r.Status == execution.StatusSCHEDULED {
				r.Status = execution.StatusCANCELED
			}
		}
		// Children canceled before they started ended just now.
		active, err = tx.Ent.Execution.Query().
			Where(execution.ParentID(w.execID), execution.StatusNotIn(xexec.FinalStatuses...)).All(ctx)
		if err != nil {
			return err
		}
	}
	waiting, scheduled := false, false
	for _, r := range w.st.Runs {
		waiting = waiting || r.waiting()
		scheduled = scheduled || r.Status == execution.StatusSCHEDULED
	}
	// Children waiting for a person (an inquiry, PENDING) or paused
	// workflows are parked: nothing moves until they are answered or
	// resumed, so a workflow with only them under way is PAUSED (as
	// Orquesta's), and goes on when an answer resumes it.
	busy := 0
	for _, k := range active {
		if k.Status != execution.StatusPENDING && k.Status != execution.StatusPAUSED {
			busy++
		}
	}
	var to execution.Status
	switch {
	case w.status == execution.StatusCANCELING && len(active) == 0:
		to = execution.StatusCANCELED
	case w.status == execution.StatusPAUSING && len(active) == 0 && !waiting:
		to = w.outcome()
	case w.status == execution.StatusPAUSING && busy == 0:
		to = execution.StatusPAUSED
	case w.status == execution.StatusRUNNING && len(active) == 0 && !waiting:
		to = w.outcome()
	case w.status == execution.StatusRUNNING && len(active) > 0 && busy == 0 && !scheduled:
		to = execution.StatusPAUSED
	}
	if to != "" && xexec.Finished(to) {
		result := map[string]any{}
		if w.st.Output != nil {
			result["output"] = w.st.Output
		}
		if len(w.st.Errors) > 0 {
			result["errors"] = w.st.Errors
		}
		raw, err := json.Marshal(result)
		if err != nil {
			return err
		}
		msg := ""
		if to == execution.StatusFAILED && len(w.st.Errors) > 0 {
			msg = fmt.Sprint(w.st.Errors[0]["message"])
			if task, ok := w.st.Errors[0]["task_id"]; ok {
				msg = fmt.Sprintf("task %s: %s", task, msg)
			}
		}
		if to == execution.StatusCANCELED {
			msg = "canceled"
		}
		_, err = w.e.exec.SetStatusTx(ctx, tx, w.execID, to, func(u *ent.ExecutionUpdate) {
			u.SetResult(raw).SetError(msg)
		})
		if err != nil {
			return err
		}
	} else if to == execution.StatusPAUSED {
		if w.wf.Language == spec.ActionChain {
			for _, k := range active {
				for _, r := range w.st.Runs {
					if r.Execution == k.ID && (k.Status == execution.StatusPENDING || k.Status == execution.StatusPAUSED) {
						r.Resumed = true
					}
				}
			}
		}
		ok, err := w.e.exec.SetStatusTx(ctx, tx, w.execID, to, nil)
		if err != nil {
			return err
		}
		if ok {
			// A parent workflow with only this one under way pauses too.
			if err := w.wakeParent(); err != nil {
				return err
			}
		}
	}
	status := w.status
	if to != "" {
		status = to
	}
	// The secret parameters are sealed apart while the workflow runs, and
	// go when it ends; the state stores placeholders (state.stored).
	if xexec.Finished(status) {
		if err := w.e.exec.DropSecretsTx(ctx, tx, w.execID); err != nil {
			return err
		}
	} else if secrets := w.st.secretValues(); len(secrets) > 0 && !w.secretsKept {
		if err := w.e.exec.KeepSecretsTx(ctx, tx, w.execID, secrets); err != nil {
			return err
		}
		w.secretsKept = true
	}
	// Written as the JSON it is stored as (see Step), with what ent's
	// update sets: the status and updated_at (the sweep reads it).
	raw, err := json.Marshal(w.st.stored())
	if err != nil {
		return err
	}
	q := "UPDATE workflow_executions SET state = CAST($1 AS jsonb), status = $2, updated_at = $3 WHERE id = $4"
	if w.e.db.Dialect != dialect.Postgres {
		q = "UPDATE workflow_executions SET state = ?1, status = ?2, updated_at = ?3 WHERE id = ?4"
	}
	_, err = tx.SQL.ExecContext(ctx, q, string(raw), string(workflowexecution.Status(status)), time.Now(), w.wfID)
	return err
}

// wakeParent asks the parent workflow, if any, to take a step.
func (w *walk) wakeParent() error {
	ex, err := w.tx.Ent.Execution.Query().Where(execution.ID(w.execID)).Select(execution.FieldParentID).Only(w.ctx)
	if err != nil || ex.ParentID == nil {
		return err
	}
	return w.e.WakeTx(w.ctx, w.tx, *ex.ParentID)
}

// outcome is the final status of a workflow with nothing left to run,
// with its output rendered.
func (w *walk) outcome() execution.Status {
	if len(w.wf.Output) > 0 {
		ev := w.evaluator()
		out := map[string]any{}
		for _, a := range w.wf.Output {
			v, err := ev.Render(a.Value, w.scope(nil))
			if err != nil {
				if !w.st.Failing {
					w.fail("", fmt.Sprintf("%s:%d: output %s: %v", w.wf.File, a.Line, a.Name, err), nil)
				}
				continue
			}
			out[a.Name] = v
		}
		w.st.Output = out
	}
	if w.st.Failing {
		return execution.StatusFAILED
	}
	return execution.StatusSUCCEEDED
}
