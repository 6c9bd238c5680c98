// Package spec parses the three workflow languages attune runs — attune's own workflow files,
// StackStorm Orquesta workflows and StackStorm action-chains — into one task-graph model, and
// validates them at install time. It is a pure core: no database, no engine. The workflow
// engine renders and evaluates the expressions the model carries as text.
//
// Parse reads one file and returns a *Workflow or an *Error listing every problem found, each
// with file, line, task and field, so an author fixes them all in one round.
package spec

import (
	"fmt"
	"strings"
)

// Language is the workflow language of a file.
type Language string

// Languages understood by Parse.
const (
	// Attune is attune's workflow file (an action's workflow_file): a tasks list with
	// next: [{when, publish, do}], {{ }} expressions, output_map.
	Attune Language = "attune"
	// Orquesta is StackStorm's Orquesta (runner_type orquesta): version 1.0, a tasks map,
	// Jinja {{ }} and YAQL <% %> expressions.
	Orquesta Language = "orquesta"
	// ActionChain is StackStorm's action-chain (runner_type action-chain): a chain list with
	// on-success / on-failure, Jinja expressions.
	ActionChain Language = "action-chain"
)

// LanguageForRunner tells the workflow language of an action from its runner name as
// manifest.ParseRunnerType returns it ("workflow" for attune's workflow_file actions).
func LanguageForRunner(runnerName string) (Language, bool) {
	switch runnerName {
	case "workflow":
		return Attune, true
	case "orquesta":
		return Orquesta, true
	case "action-chain":
		return ActionChain, true
	}
	return "", false
}

// ExprLang tags the expression language of a text.
type ExprLang string

// Expression languages.
const (
	// NoExpr marks plain text, used as is.
	NoExpr ExprLang = ""
	// Jinja marks {{ … }} (and {% … %} blocks). attune's own {{ }} expressions are tagged Jinja
	// too: the engine renders them with the Jinja renderer and attune's workflow functions.
	Jinja ExprLang = "jinja"
	// YAQL marks <% … %>, evaluated by internal/yaql.
	YAQL ExprLang = "yaql"
)

// Workflow is one parsed workflow file, whatever its language. Values called raw keep what the
// file says (nil, bool, int64, float64, string, []any, map[string]any); strings in them may
// hold expressions to render at run time (ExprLangOf tells which language).
type Workflow struct {
	Language    Language
	File        string
	Version     string
	Description string
	// Input lists the workflow's input names in file order (Orquesta input; attune parameters;
	// empty for action-chains, whose parameters come from the action).
	Input []Param
	// Vars are the initial variables in evaluation order; each may refer to earlier ones.
	Vars []Assign
	// Output is rendered when the workflow ends (Orquesta output, attune output_map); empty
	// for action-chains.
	Output []Assign
	// Tasks by name; Order lists their names in file order.
	Tasks map[string]*Task
	Order []string
	// Start lists the tasks that run first: tasks with no inbound transition (Orquesta sorts
	// them by name, attune keeps file order), or the action-chain's default node.
	Start []string
	// Extra keeps recognised top-level keys the model does not interpret (attune: ref, label,
	// parameters, output, tags, cancellation_policy), raw.
	Extra map[string]any
}

// Param is a workflow input: a name and, when HasDefault, its raw default.
type Param struct {
	Name       string
	Default    any
	HasDefault bool
	Line       int
}

// Assign sets a variable (vars, publish, output) to a raw value.
type Assign struct {
	Name  string
	Value any
	Line  int
}

// Task is one node of the graph.
type Task struct {
	Name string
	Line int
	// Action is the action ref to run ("core.echo"); it may be an expression. Empty only for
	// Orquesta tasks without action, which do nothing and complete at once (join points).
	Action string
	// Input is the action's parameters, raw (Orquesta inline "core.echo message=hi" and input
	// strings are parsed into it).
	Input map[string]any
	// Transitions are evaluated in order when the task completes; every one whose When is empty
	// or true fires (Orquesta and attune semantics).
	Transitions []Transition
	Join        *Join
	Items       *Items
	Retry       *Retry
	// Delay before the task starts, seconds (Orquesta delay, attune delay).
	Delay *Number
	// Timeout of the task's action in seconds (attune timeout); nil = the action's own.
	Timeout *Number
	// Guard is attune's legacy task-level `when`: the task is skipped when it renders false.
	Guard string
	// Inbound lists the tasks with a transition to this one, sorted, each once.
	Inbound []string
	// Extra keeps recognised task keys the model does not interpret yet (attune: wait_for,
	// iterate_cache, permission_set_refs, trace_tag_template, worker_selector, tolerations,
	// affinity, type; action-chain: notify, description), raw.
	Extra map[string]any

	path  string         // where the task is in the file, for problems ("tasks.task1", "chain[2]")
	lines map[string]int // line of each key of the task, for problems
}

// targetLine is the line of the transition's targets: its do, or the transition's own line.
func (tr *Transition) targetLine() int {
	if tr.doLine > 0 {
		return tr.doLine
	}
	return tr.Line
}

// lineOf is the line of one of the task's keys, or the task's own line.
func (t *Task) lineOf(key string) int {
	if l := t.lines[key]; l > 0 {
		return l
	}
	return t.Line
}

// Transition fires after its task completes when When is empty or renders true: Publish is
// rendered in order into the workflow variables (each may read the ones before), then every
// target in Do runs.
type Transition struct {
	// When is the condition as written ("<% succeeded() %>", "{{ failed() }}"); empty = always.
	When    string
	Publish []Assign
	// Do is never empty: an absent do is [{Kind: TargetContinue}].
	Do   []Target
	Line int

	path   string // where the transition is, for problems ("tasks.t.next[0]")
	doPath string // where its targets are ("tasks.t.next[0].do", "chain[1].on-success")
	doLine int    // the line of its do, when it has one
}

// TargetKind tells what a transition target does.
type TargetKind string

// Target kinds. Orquesta reserves the names fail, noop, retry and continue; attune uses the
// same words; action-chains have only task targets (possibly dynamic).
const (
	// TargetTask schedules the task named Name.
	TargetTask TargetKind = "task"
	// TargetFail fails the workflow (after running tasks finish).
	TargetFail TargetKind = "fail"
	// TargetNoop does nothing and marks a failure handled (the workflow does not fail for it).
	TargetNoop TargetKind = "noop"
	// TargetRetry is Orquesta's "do: retry". Parse compiles it into the task's Retry (count 3,
	// no delay, When = the transition's condition or completed()), as Orquesta's composer
	// does; the engine drives retries from Task.Retry alone and treats this target as continue.
	TargetRetry TargetKind = "retry"
	// TargetContinue does nothing more than the transition's publish. It is what an absent or
	// empty do means (Orquesta, attune, action-chain without on-success/on-failure): if the task
	// failed, the failure is not handled and the workflow fails once running tasks end.
	TargetContinue TargetKind = "continue"
	// TargetDynamic names the next task by an expression in Name, rendered at run time
	// (action-chain on-success: "{{ next_node }}").
	TargetDynamic TargetKind = "dynamic"
)

// Target is one entry of a transition's do.
type Target struct {
	Kind TargetKind
	// Name is the task for TargetTask, the expression for TargetDynamic, the keyword otherwise.
	Name string
}

// Join makes a task wait for its inbound transitions: all of them, or Count of them.
type Join struct {
	All   bool
	Count int
}

// Items runs the task once per item of a list.
type Items struct {
	// Expr renders to the list (Orquesta "<% ctx(xs) %>" after " in ", attune "{{ parameters.xs }}").
	// Empty when Literal holds the list.
	Expr    string
	Literal []any
	// Vars names the item's fields (Orquesta "x, y in <% zip(…) %>": item(x), item(y)); empty
	// means the item is used whole (item()/item).
	Vars []string
	// Concurrency caps the items running at once; nil = unbounded (Orquesta) or 1 (attune's
	// default, set by the parser).
	Concurrency *Number
	// BatchSize groups items per child (attune batch_size); nil = one item per child.
	BatchSize *Number
}

// Retry runs a task's action again, up to Count more times, Delay seconds apart, while When
// holds after an attempt; transitions are evaluated only once no retry is left or wanted.
type Retry struct {
	// When is the condition; empty means: when the attempt failed, timed out, expired or was
	// abandoned (Orquesta's abended statuses).
	When     string
	Count    Number
	Delay    *Number
	Backoff  string // attune: constant (default), linear, exponential
	MaxDelay *Number
}

// Number is a non-negative integer written as a literal or as an expression to render.
type Number struct {
	Value int64
	Expr  string // non-empty: render at run time; Value is then 0
}

// String renders the number as the file wrote it.
func (n Number) String() string {
	if n.Expr != "" {
		return n.Expr
	}
	return fmt.Sprint(n.Value)
}

// Problem is one thing wrong with a workflow file. Line is 1-based (0 when unknown); Task names
// the task it is in (empty at workflow level); Field is the path of the offending key, written as
// Orquesta writes spec paths ("tasks.task1.next[0].do").
type Problem struct {
	File    string
	Line    int
	Task    string
	Field   string
	Message string
}

// String renders "file:line: task t: field: message", leaving out unknown parts.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	if p.Task != "" {
		fmt.Fprintf(&b, ": task %s", p.Task)
	}
	if p.Field != "" {
		b.WriteString(": " + p.Field)
	}
	b.WriteString(": " + p.Message)
	return b.String()
}

// Error lists every problem of a workflow file, ordered by line.
type Error struct {
	Problems []Problem
}

// Error summarises all problems on one line.
func (e *Error) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	noun := "problems"
	if len(parts) == 1 {
		noun = "problem"
	}
	return fmt.Sprintf("invalid workflow: %d %s: %s", len(parts), noun, strings.Join(parts, "; "))
}
