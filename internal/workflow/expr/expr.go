// Package expr evaluates the expressions of a workflow file at run time, for each of the three
// languages internal/workflow/spec parses: Orquesta (Jinja {{ }} and YAQL <% %> with Orquesta's
// functions), attune's workflow files ({{ }} with the namespaces parameters, workflow, task,
// config, keystore, item, index) and action-chains (Jinja over parameters, vars, published
// values and earlier nodes' results). It is a pure core: the engine fills a Scope from the
// workflow's persisted state and asks for values and conditions.
//
// The rules are Orquesta's (orquesta/expressions/{jinja,yql}.py): a string that is exactly one
// expression yields the expression's value with its type (the expression is evaluated to a
// value, never printed and parsed back, so "123" stays a string); text around expressions, or
// several of them, makes a string in which each value is written as Python's str() would;
// a string value that holds expressions is expanded again; a Jinja text with {% %} blocks is
// rendered whole; {% raw %} blocks are kept as written. Attune's workflow files follow the same
// rules with their own namespaces. Action-chains render as StackStorm's render_values does:
// text (see Render).
//
// Functions, in both Orquesta languages: ctx(), ctx(name) (variables whose names start with
// "__" are hidden), result(), succeeded(), failed(), completed(), task_status(name) ("null"
// for a task that has not run), item(), item(name), json(), zip(…, pad=), st2kv(key,
// decrypt=, default=), task(name), and st2's expression functions (from_json_string,
// to_json_string, json_escape, regex_*, version_*, to_yaml_string, use_none, basename …; in
// YAQL from internal/yaql's library). Jinja also has timed_out(), cancelled() and
// keystore(key) for attune's files, and _ for ctx(). Attune's files also have their expression
// language's builtins as functions (length, type_of, keys, values, int, number, string, bool,
// abs/floor/ceil/round/min/max/sum, lower/upper/trim/split/join/replace/starts_with/ends_with/
// match, contains/reversed/sort/unique/flat). Every function is a Jinja filter too.
//
// Parsed expressions are cached per Evaluator by text (bounded), and the variables of one
// Render or Truth call are built once, lazily where they can be (keystore, task, st2kv).
package expr

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/attune-io/attune/internal/jinja"
	"github.com/attune-io/attune/internal/pyfmt"
	"github.com/attune-io/attune/internal/workflow/spec"
)

// Task statuses as expressions see them (Orquesta's words, lowercase).
const (
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusTimedOut  = "timeout"
	StatusCanceled  = "canceled"
	StatusAbandoned = "abandoned"
	StatusPending   = "pending"
	// StatusUnset is Orquesta's task_status() of a task that has not run ("null", its
	// statuses.UNSET).
	StatusUnset = "null"
)

// TaskState is what expressions know of one task: its latest run.
type TaskState struct {
	// Status is one of the Status constants.
	Status string
	// Result is the task's result: its action execution's result (a with-items task: the list
	// of its items' results, in item order).
	Result any
	// Items are a with-items task's item runs (status and result), in item order; nil for
	// other tasks. st2's task(name).result is then {"items": [{"status", "result"}…]}.
	Items []TaskState
}

// Scope is everything an expression may read at one point of a workflow.
type Scope struct {
	// Vars are the workflow variables: input, vars and everything published so far
	// (Orquesta ctx(), attune `workflow`, action-chain vars and published names).
	Vars map[string]any
	// Parameters are the workflow action's parameters (attune `parameters`, action-chain
	// parameter names at top level).
	Parameters map[string]any
	// Tasks holds the latest state of every task that ran (task_status(), attune
	// task.<name>, action-chain <name>).
	Tasks map[string]TaskState
	// Current is the task whose transitions, publish or retry condition are evaluated
	// (result(), succeeded(), failed(), completed(), timed_out()); nil elsewhere.
	Current *TaskState
	// CurrentName names Current.
	CurrentName string
	// Item is the current with-items item (item(), attune item), valid when HasItem; Index is
	// its position (attune index). ItemVars maps Orquesta's named item variables
	// ("x, y in <% zip(…) %>": item(x)).
	Item     any
	HasItem  bool
	Index    int
	ItemVars map[string]any
	// Config is the pack's config (attune `config`, st2 config_context).
	Config map[string]any
	// KV reads the key/value store (st2kv(), attune keystore, action-chain st2kv.system);
	// nil makes them fail. Keys are named as Orquesta's st2kv() names them: "system.<name>"
	// for the system scope, "<name>" for the user's scope (action-chain st2kv.system.x asks
	// for "system.x", st2kv.user.x for "x"); attune's keystore.<name> asks for "<name>"
	// decrypted. A missing key is an error that wraps ErrKeyNotFound (st2kv(…, default=v)
	// then yields v; action-chain lookups yield "").
	KV func(key string, decrypt bool) (any, error)
	// St2 is Orquesta's ctx().st2 / action-chain's st2 context: action_execution_id,
	// workflow_execution_id, user, api_url, pack.
	St2 map[string]any
}

// ErrKeyNotFound is wrapped by Scope.KV's error for a key that does not exist.
var ErrKeyNotFound = errors.New("key not found")

// Error is an expression that failed to evaluate: Expr is the expression as written (one
// {{ }} or <% %>, or the whole text of a template with blocks), Err the cause.
type Error struct {
	Expr string
	Err  error
}

func (e *Error) Error() string {
	return fmt.Sprintf("Unable to evaluate expression '%s'. %s", e.Expr, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func exprError(expr string, err error) error {
	var ee *Error
	if errors.As(err, &ee) {
		return err
	}
	return &Error{Expr: expr, Err: err}
}

// Evaluator renders the expressions of one workflow language. Safe for concurrent use.
type Evaluator struct {
	lang  spec.Language
	jinja *jinja.Env
	cache *cache
}

// New returns an Evaluator for lang rendering Jinja with env (StackStorm's filters; New adds
// the language's functions to it). Evaluators are shared: New returns the same one for the
// same language and env, so calling it for every step costs a map lookup and keeps the cache
// of parsed expressions warm.
func New(lang spec.Language, env *jinja.Env) *Evaluator {
	if env == nil {
		env = defaultEnv()
	}
	key := evaluatorKey{lang, env}
	if e, ok := evaluators.Load(key); ok {
		return e.(*Evaluator)
	}
	e, _ := evaluators.LoadOrStore(key, &Evaluator{lang: lang, jinja: env.Extend(globals(lang, env)), cache: newCache(cacheSize)})
	return e.(*Evaluator)
}

type evaluatorKey struct {
	lang spec.Language
	env  *jinja.Env
}

// evaluators are the Evaluators New made. An attune process has a few Jinja engines, so this
// stays small.
var evaluators sync.Map

var defaultEnv = sync.OnceValue(func() *jinja.Env { return jinja.New(jinja.Options{}) })

// Render renders every expression in a raw value from a workflow file (strings, lists and maps,
// recursively; map keys too). A string that is exactly one expression keeps the expression's
// type (a list stays a list); text around expressions makes a string. Errors are *Error,
// naming the expression and the cause.
//
// Action-chains render as StackStorm's render_values does: a string renders to a string
// (the engine casts action parameters to their schema types), a list or map value of a
// mapping renders through its JSON text, map keys are not rendered, and a value whose
// rendering changes nothing keeps its original value.
//
// Numbers come out as int64 (whole) or float64; lists as []any, maps as map[string]any. A
// result may share maps and lists with the Scope's values: copy before changing one.
func (e *Evaluator) Render(raw any, sc *Scope) (any, error) {
	st := &state{ev: e, sc: sc}
	if e.lang == spec.ActionChain {
		return st.chainRender(raw)
	}
	return st.render(raw, 0)
}

// Truth evaluates a condition (a transition's when, a retry's when): empty is true; the
// value's Python truthiness decides. A condition that is one expression is evaluated to its
// value in every language (an action-chain's too), so {{ failed() }} is False, not "False".
func (e *Evaluator) Truth(text string, sc *Scope) (bool, error) {
	if strings.TrimSpace(text) == "" {
		return true, nil
	}
	st := &state{ev: e, sc: sc}
	v, err := st.renderString(text, 0)
	if err != nil {
		return false, err
	}
	return truthy(v), nil
}

// truthy is Python's truth value of a plain value.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case int:
		return x != 0
	case int64:
		return x != 0
	case float64:
		return x != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// maxDepth bounds how deep expressions that yield expressions are expanded again.
const maxDepth = 16

// maxText bounds a string made of text and expressions' values.
const maxText = jinja.DefaultMaxOutput

// state is one Render or Truth call: the scope and what was built from it once.
type state struct {
	ev       *Evaluator
	sc       *Scope
	data     map[string]any // the Jinja variables, built on first use
	prepared *jinja.Vars    // data prepared for gonja
	public   map[string]any // ctx(), built on first use
	ychild   any            // the YAQL context, built on first use (*yaql.Context)
}

func (st *state) scope() *Scope {
	if st.sc == nil {
		st.sc = &Scope{}
	}
	return st.sc
}

// render renders a raw value as Orquesta's evaluate does (attune too).
func (st *state) render(raw any, depth int) (any, error) {
	switch x := raw.(type) {
	case string:
		return st.renderString(x, depth)
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			r, err := st.render(v, depth)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			rk, err := st.renderString(k, depth)
			if err != nil {
				return nil, err
			}
			r, err := st.render(v, depth)
			if err != nil {
				return nil, err
			}
			out[pyfmt.Str(rk)] = r
		}
		return out, nil
	}
	return normal(raw), nil
}

// renderString renders one string in the language of the workflow: <% %> is YAQL in Orquesta
// only; {{ }} and {% %} are Jinja, with Orquesta's expansion rules (a whole-string expression
// keeps its type) in every language.
func (st *state) renderString(s string, depth int) (any, error) {
	switch spec.ExprLangOf(s) {
	case spec.YAQL:
		if st.ev.lang == spec.Orquesta {
			return st.yaqlRender(s, depth)
		}
		if !jinja.IsTemplate(s) {
			return s, nil
		}
		return st.jinjaEvaluate(s)
	case spec.Jinja:
		return st.jinjaEvaluate(s)
	}
	return s, nil
}
