// Package expr evaluates the expressions of a workflow file at run time, for each of the three
// languages internal/workflow/spec parses: Orquesta (Jinja {{ }} and YAQL <% %> with Orquesta's
// functions), attune's workflow files ({{ }} with the namespaces parameters, workflow, task,
// config, keystore, item, index) and action-chains (Jinja over parameters, vars, published
// values and earlier nodes' results). It is a pure core: the engine fills a Scope from the
// workflow's persisted state and asks for values and conditions.
package expr

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/attune-io/attune/internal/jinja"
	"github.com/attune-io/attune/internal/workflow/spec"
	"github.com/attune-io/attune/internal/yaql"
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
)

// TaskState is what expressions know of one task: its latest run.
type TaskState struct {
	// Status is one of the Status constants.
	Status string
	// Result is the task's result: its action execution's result (a with-items task: the list
	// of its items' results, in item order).
	Result any
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
	// KV reads the key/value store (st2kv(), attune keystore); nil makes them fail.
	KV func(key string, decrypt bool) (any, error)
	// St2 is Orquesta's ctx().st2 / action-chain's st2 context: action_execution_id,
	// workflow_execution_id, user, api_url, pack.
	St2 map[string]any
}

// Evaluator renders the expressions of one workflow language. Safe for concurrent use.
type Evaluator struct {
	lang  spec.Language
	jinja *jinja.Env
}

// New returns an Evaluator for lang rendering Jinja with env.
func New(lang spec.Language, env *jinja.Env) *Evaluator {
	return &Evaluator{lang: lang, jinja: env}
}

// Render renders every expression in a raw value from a workflow file (strings, lists and maps,
// recursively; map keys too). A string that is exactly one expression keeps the expression's
// type (a list stays a list); text around expressions makes a string. Errors name the
// expression and the cause.
func (e *Evaluator) Render(raw any, sc *Scope) (any, error) {
	switch x := raw.(type) {
	case string:
		return e.renderString(x, sc)
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			r, err := e.Render(v, sc)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			rk, err := e.renderString(k, sc)
			if err != nil {
				return nil, err
			}
			r, err := e.Render(v, sc)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(rk)] = r
		}
		return out, nil
	}
	return raw, nil
}

// Truth evaluates a condition (a transition's when, a retry's when): empty is true; the
// rendered value's Python truthiness decides.
func (e *Evaluator) Truth(text string, sc *Scope) (bool, error) {
	if strings.TrimSpace(text) == "" {
		return true, nil
	}
	v, err := e.Render(text, sc)
	if err != nil {
		return false, err
	}
	return truthy(v), nil
}

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

func (e *Evaluator) renderString(s string, sc *Scope) (any, error) {
	lang := spec.ExprLangOf(s)
	if lang == spec.YAQL && e.lang != spec.Orquesta {
		lang = spec.NoExpr
		if strings.Contains(s, "{{") || strings.Contains(s, "{%") {
			lang = spec.Jinja
		}
	}
	switch lang {
	case spec.YAQL:
		c, err := e.yaqlContext(sc)
		if err != nil {
			return nil, err
		}
		v, err := yaql.Render(s, c)
		if err != nil {
			return nil, fmt.Errorf("expression %q: %w", s, err)
		}
		return v, nil
	case spec.Jinja:
		out, err := e.jinja.Render(s, e.jinjaVars(sc))
		if err != nil {
			return nil, fmt.Errorf("expression %q: %w", s, err)
		}
		t := strings.TrimSpace(s)
		if strings.HasPrefix(t, "{{") && strings.HasSuffix(t, "}}") && strings.Count(t, "{{") == 1 {
			var v any
			if json.Unmarshal([]byte(out), &v) == nil {
				return v, nil
			}
		}
		return out, nil
	}
	return s, nil
}

func (e *Evaluator) yaqlContext(sc *Scope) (*yaql.Context, error) {
	c, err := yaql.NewOrquestaContext(sc.Vars)
	if err != nil {
		return nil, err
	}
	cur := func() (*TaskState, error) {
		if sc.Current == nil {
			return nil, fmt.Errorf("no task is being evaluated here")
		}
		return sc.Current, nil
	}
	c.Register("result", func(*yaql.Call) (any, error) {
		t, err := cur()
		if err != nil {
			return nil, err
		}
		return t.Result, nil
	})
	status := func(want ...string) yaql.Func {
		return func(*yaql.Call) (any, error) {
			t, err := cur()
			if err != nil {
				return nil, err
			}
			for _, w := range want {
				if t.Status == w {
					return true, nil
				}
			}
			return false, nil
		}
	}
	c.Register("succeeded", status(StatusSucceeded))
	c.Register("failed", status(StatusFailed, StatusTimedOut, StatusAbandoned))
	c.Register("completed", status(StatusSucceeded, StatusFailed, StatusTimedOut, StatusCanceled, StatusAbandoned))
	c.Register("item", func(call *yaql.Call) (any, error) {
		if !sc.HasItem {
			return nil, fmt.Errorf("item() is only defined in a with-items task")
		}
		if call.Len() == 0 {
			return sc.Item, nil
		}
		k, err := call.Arg(0)
		if err != nil {
			return nil, err
		}
		return sc.ItemVars[fmt.Sprint(k)], nil
	})
	c.Register("task_status", func(call *yaql.Call) (any, error) {
		k, err := call.Arg(0)
		if err != nil {
			return nil, err
		}
		t, ok := sc.Tasks[fmt.Sprint(k)]
		if !ok {
			return "unset", nil
		}
		return t.Status, nil
	})
	return c, nil
}

func (e *Evaluator) jinjaVars(sc *Scope) map[string]any {
	vars := map[string]any{}
	for k, v := range sc.Vars {
		vars[k] = v
	}
	for k, v := range sc.Parameters {
		if _, ok := vars[k]; !ok {
			vars[k] = v
		}
	}
	tasks := map[string]any{}
	for name, t := range sc.Tasks {
		tasks[name] = map[string]any{"status": t.Status, "result": t.Result}
		if e.lang == spec.ActionChain {
			vars[name] = t.Result
		}
	}
	vars["parameters"] = sc.Parameters
	vars["workflow"] = sc.Vars
	vars["task"] = tasks
	vars["config"] = sc.Config
	if sc.HasItem {
		vars["item"] = sc.Item
		vars["index"] = sc.Index
	}
	if sc.Current != nil {
		cur := *sc.Current
		vars["__current"] = map[string]any{"status": cur.Status, "result": cur.Result}
	}
	return vars
}
