package engine

import (
	"maps"
	"reflect"
	"strings"
	"time"

	"github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/internal/jinja"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/workflow/expr"
)

// state is a workflow's progress, persisted as JSON on its
// WorkflowExecution row after every step. Child executions are the truth
// about tasks' actions; state holds what they do not: the variables, the
// task runs and their places in the graph.
type state struct {
	// Params are the workflow action's parameters; secret ones are stored
	// as param.Redacted (see stored).
	Params map[string]any `json:"params,omitempty"`
	// Vars are the workflow variables (Orquesta ctx: input, vars and
	// everything published; attune's and action-chains' vars and published
	// values).
	Vars map[string]any `json:"vars"`
	// Runs are the task runs in the order they were created; a run's id is
	// its index + 1, recorded on its children as task_run.
	Runs []*taskRun `json:"runs"`
	// Joins are the join tasks waiting for their inbound tasks, by name.
	Joins map[string]*joinState `json:"joins,omitempty"`
	// Failing is set once the workflow will fail: a fail target, an
	// unhandled task failure or an error. No new task starts.
	Failing bool `json:"failing,omitempty"`
	// Errors explain the failure, Orquesta's way ({type, message, task_id, result}).
	Errors []map[string]any `json:"errors,omitempty"`
	// Output is the rendered output, once the workflow ended.
	Output any `json:"output,omitempty"`
	// Secrets names the secret parameters, hidden from readers of the
	// context (Execution.workflow.context).
	Secrets []string `json:"secrets,omitempty"`
	// RerunOf is the execution this one re-runs, if any.
	RerunOf int `json:"rerun_of,omitempty"`
}

// taskRun is one run of a task: one child execution, or one per item.
type taskRun struct {
	ID   int    `json:"id"`
	Task string `json:"task"`
	// Status is an execution status: SCHEDULED (waiting for its delay or
	// for a resume), RUNNING, then the final status of the run.
	Status execution.Status `json:"status"`
	// Attempt counts the retries done.
	Attempt int `json:"attempt,omitempty"`
	// StartAt is when a delayed run starts.
	StartAt *time.Time `json:"start_at,omitempty"`
	// Deferred marks a run that waits for the workflow to resume.
	Deferred bool `json:"deferred,omitempty"`
	// Items are a with-items task's items (HasItems), Next the next to start.
	HasItems   bool  `json:"has_items,omitempty"`
	Items      []any `json:"items,omitempty"`
	Next       int   `json:"next,omitempty"`
	ItemFailed bool  `json:"item_failed,omitempty"`
	// ItemOK tells, once the run ended, which items succeeded.
	ItemOK []bool `json:"item_ok,omitempty"`
	// Kept are the results of items a re-run keeps (they do not run again).
	Kept map[int]any `json:"kept,omitempty"`
	// Active counts its children not yet ended.
	Active int `json:"active,omitempty"`
	// Execution is the last child started for it (not with items).
	Execution int `json:"execution,omitempty"`
	// Result is the run's result once it ended.
	Result any    `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
	// Done marks a run whose transitions were evaluated.
	Done bool `json:"done,omitempty"`
	// Resumed marks an action-chain run whose child was PENDING (an
	// inquiry) or PAUSED when its chain paused: StackStorm's chain, on
	// resuming, adds the child's final result under "result" to what the
	// node's name gives (so <task>.result.response reads an answer).
	Resumed bool `json:"resumed,omitempty"`
	// Started and Ended bound the run, for the tasks listing.
	Started time.Time  `json:"started"`
	Ended   *time.Time `json:"ended,omitempty"`
}

// joinState counts the inbound tasks that reached a join task.
type joinState struct {
	Arrived []string `json:"arrived"`
	Fired   bool     `json:"fired,omitempty"`
}

// waiting reports whether the run has yet to end: a child under way, a
// delay or a resume to wait for.
func (r *taskRun) waiting() bool {
	return r.Status == execution.StatusSCHEDULED || r.Status == execution.StatusRUNNING
}

// exprStatus is a status in the words expressions use.
func exprStatus(s execution.Status) string {
	switch s {
	case execution.StatusSUCCEEDED:
		return expr.StatusSucceeded
	case execution.StatusFAILED:
		return expr.StatusFailed
	case execution.StatusTIMEOUT:
		return expr.StatusTimedOut
	case execution.StatusCANCELED:
		return expr.StatusCanceled
	case execution.StatusABANDONED:
		return expr.StatusAbandoned
	case execution.StatusRUNNING:
		return expr.StatusRunning
	}
	return strings.ToLower(string(s))
}

// failedStatus reports an execution status that is a failure of its task.
func failedStatus(s execution.Status) bool {
	switch s {
	case execution.StatusFAILED, execution.StatusTIMEOUT, execution.StatusABANDONED, execution.StatusCANCELED:
		return true
	}
	return false
}

// tasks is the latest state of each task that ran, for expressions.
func (st *state) tasks() map[string]expr.TaskState {
	out := make(map[string]expr.TaskState, len(st.Runs))
	for _, r := range st.Runs {
		out[r.Task] = expr.TaskState{Status: exprStatus(r.Status), Result: r.exprResult()}
	}
	return out
}

// exprResult is the run's result as expressions see it: a resumed
// action-chain run's result also holds itself under "result" (see Resumed),
// unless it has such a key of its own.
func (r *taskRun) exprResult() any {
	m, ok := r.Result.(map[string]any)
	if !r.Resumed || !ok {
		return r.Result
	}
	if _, has := m["result"]; has {
		return r.Result
	}
	out := maps.Clone(m)
	out["result"] = m
	return out
}

// normalize restores whole numbers that the JSON column turned into
// floats (3, not 3.0), as expressions saw them before the state was stored.
func (st *state) normalize() {
	if st.Params != nil {
		st.Params, _ = jinja.ContextValue(st.Params).(map[string]any)
	}
	if st.Vars != nil {
		st.Vars, _ = jinja.ContextValue(st.Vars).(map[string]any)
	}
	st.Output = jinja.ContextValue(st.Output)
	for _, r := range st.Runs {
		r.Result = jinja.ContextValue(r.Result)
		if r.Items != nil {
			r.Items, _ = jinja.ContextValue(r.Items).([]any)
		}
		for i, v := range r.Kept {
			r.Kept[i] = jinja.ContextValue(v)
		}
	}
}

// The secret parameters of a workflow (named in Secrets) are not stored in
// its state: Params, and the variables that hold one (an Orquesta input),
// store param.Redacted in their place, and the values wait sealed in the
// workflow execution's ExecutionSecret row until it ends (KeepSecretsTx).
// A step puts them back in memory (restoreSecrets) before rendering
// anything. What the workflow computes from them (vars, published values,
// its output) is stored as computed.

// secretValues returns the secret parameters held in memory, by name.
func (st *state) secretValues() map[string]any {
	out := map[string]any{}
	for _, name := range st.Secrets {
		if v, ok := st.Params[name]; ok && v != param.Redacted {
			out[name] = v
		}
	}
	return out
}

// stored returns st as it is stored: a copy with every secret parameter,
// and every variable that holds its value, replaced by param.Redacted.
func (st *state) stored() *state {
	if len(st.Secrets) == 0 {
		return st
	}
	c := *st
	c.Params, c.Vars = maps.Clone(st.Params), maps.Clone(st.Vars)
	for _, name := range st.Secrets {
		v, ok := st.Params[name]
		if !ok {
			continue
		}
		c.Params[name] = param.Redacted
		if held, ok := c.Vars[name]; ok && reflect.DeepEqual(held, v) {
			c.Vars[name] = param.Redacted
		}
	}
	return &c
}

// restoreSecrets puts secrets (unsealed) back where the stored state
// holds their placeholders.
func (st *state) restoreSecrets(secrets map[string]any) {
	for _, name := range st.Secrets {
		v, ok := secrets[name]
		if !ok {
			continue
		}
		if st.Params == nil {
			st.Params = map[string]any{}
		}
		if held, ok := st.Params[name]; !ok || held == param.Redacted {
			st.Params[name] = v
		}
		if st.Vars[name] == param.Redacted {
			st.Vars[name] = v
		}
	}
}
