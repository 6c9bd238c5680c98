package expr

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"

	"github.com/attune-io/attune/internal/jinja"
	"github.com/attune-io/attune/internal/workflow/spec"
)

// The functions every language's expressions may call. Orquesta's are its own
// (orquesta/expressions/functions) and st2's runner's (st2kv, task and st2common's
// expression functions); attune's workflow files add timed_out() and cancelled(); an
// action-chain's generated conditions call succeeded() and failed().

// errCurrentTask is Orquesta's error for result(), succeeded()… outside a task's transitions.
var errCurrentTask = errors.New("ExpressionEvaluationException: The current task is not set in the context.")

func (st *state) current() (*TaskState, error) {
	if st.scope().Current == nil {
		return nil, errCurrentTask
	}
	return st.sc.Current, nil
}

// ctxAll is ctx(): the workflow variables whose names do not start with "__", and st2 (the
// StackStorm context) when the variables do not hold one.
func (st *state) ctxAll() map[string]any {
	if st.public != nil {
		return st.public
	}
	sc := st.scope()
	_, hasSt2 := sc.Vars["st2"]
	shared := hasSt2 || sc.St2 == nil
	for k := range sc.Vars {
		if strings.HasPrefix(k, "__") {
			shared = false
			break
		}
	}
	if shared {
		// Nothing to hide or add: the variables themselves (copied only if not normal).
		if m, ok := normal(nonNil(sc.Vars)).(map[string]any); ok {
			st.public = m
			return m
		}
	}
	out := make(map[string]any, len(sc.Vars)+1)
	for k, v := range sc.Vars {
		if !strings.HasPrefix(k, "__") {
			out[k] = normal(v)
		}
	}
	if _, ok := out["st2"]; !ok && sc.St2 != nil {
		out["st2"] = normal(sc.St2)
	}
	st.public = out
	return out
}

// ctxVar is ctx(name).
func (st *state) ctxVar(key any) (any, error) {
	if !truthy(key) {
		return st.ctxAll(), nil
	}
	name, ok := key.(string)
	if !ok {
		return nil, fmt.Errorf("VariableUndefinedError: The variable \"%v\" is undefined.", key)
	}
	sc := st.scope()
	v, ok := sc.Vars[name]
	if !ok && name == "st2" && sc.St2 != nil {
		return normal(sc.St2), nil
	}
	if !ok {
		return nil, fmt.Errorf("VariableUndefinedError: The variable \"%s\" is undefined.", name)
	}
	if strings.HasPrefix(name, "__") {
		return nil, fmt.Errorf("VariableInaccessibleError: The variable \"%s\" is for internal use and inaccessible.", name)
	}
	return normal(v), nil
}

// statusIs reports whether the current task's status is one of want.
func (st *state) statusIs(want ...string) (bool, error) {
	t, err := st.current()
	if err != nil {
		return false, err
	}
	for _, w := range want {
		if t.Status == w {
			return true, nil
		}
	}
	return false, nil
}

// failedStatuses are what failed() is true for: Orquesta's failed() is the failed status
// only (a timed-out task is "timeout", which completed() counts); an action-chain follows
// on-failure for failed and timed-out actions alike.
func failedStatuses(lang spec.Language) []string {
	if lang == spec.ActionChain {
		return []string{StatusFailed, StatusTimedOut, StatusAbandoned}
	}
	return []string{StatusFailed}
}

var completedStatuses = []string{StatusSucceeded, StatusFailed, StatusTimedOut, StatusAbandoned, StatusCanceled}

// taskStatus is task_status(name).
func (st *state) taskStatus(name any) (any, error) {
	s, ok := name.(string)
	if !ok {
		return nil, fmt.Errorf("TypeError: task_status() takes a task name, not %v", name)
	}
	if t, ok := st.scope().Tasks[s]; ok {
		return t.Status, nil
	}
	return StatusUnset, nil
}

// task is st2's task(name): the task's latest execution.
func (st *state) task(name any) (any, error) {
	sc := st.scope()
	s, _ := name.(string)
	if name == nil {
		s = sc.CurrentName
	}
	var t TaskState
	var ok bool
	if s == sc.CurrentName && sc.Current != nil {
		t, ok = *sc.Current, true
	} else {
		t, ok = sc.Tasks[s]
	}
	if !ok || s == "" {
		return nil, fmt.Errorf("ExpressionEvaluationException: Unable to find task execution for \"%v\".", name)
	}
	res := normal(t.Result)
	if t.Items != nil {
		items := make([]any, len(t.Items))
		for i, it := range t.Items {
			items[i] = map[string]any{"status": it.Status, "result": normal(it.Result)}
		}
		res = map[string]any{"items": items}
	}
	return map[string]any{
		"task_name":             s,
		"task_id":               s,
		"route":                 int64(0),
		"result":                res,
		"status":                t.Status,
		"workflow_execution_id": normal(sc.St2["workflow_execution_id"]),
	}, nil
}

// item is item() and item(name).
func (st *state) item(key any) (any, error) {
	sc := st.scope()
	if !sc.HasItem {
		if key != nil && key != "" {
			return nil, errors.New("ExpressionEvaluationException: Item is not type of collections.abc.Mapping.")
		}
		return nil, nil
	}
	if key == nil || key == "" {
		return normal(sc.Item), nil
	}
	name, _ := key.(string)
	if v, ok := sc.ItemVars[name]; ok {
		return normal(v), nil
	}
	m, ok := normal(sc.Item).(map[string]any)
	if !ok {
		return nil, errors.New("ExpressionEvaluationException: Item is not type of collections.abc.Mapping.")
	}
	v, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("ExpressionEvaluationException: Item does not have key \"%v\".", key)
	}
	return v, nil
}

// jsonFn is Orquesta's json(): a dict passes, a string is parsed.
func jsonFn(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		return x, nil
	case string:
		dec := json.NewDecoder(strings.NewReader(x))
		dec.UseNumber()
		var out any
		if err := dec.Decode(&out); err != nil {
			return nil, fmt.Errorf("JSONDecodeError: %v", err)
		}
		if dec.More() {
			return nil, errors.New("JSONDecodeError: Extra data")
		}
		return normal(out), nil
	}
	return nil, errors.New("TypeError: Given object is not typeof string.")
}

// zipFn is Orquesta's zip(): None is an empty list, one list is itself, more are zipped to
// the longest, padded with pad.
func zipFn(args []any, pad any) (any, error) {
	lists := make([][]any, len(args))
	for i, a := range args {
		switch x := a.(type) {
		case nil:
			lists[i] = []any{}
		case []any:
			lists[i] = x
		case string:
			for _, r := range x {
				lists[i] = append(lists[i], string(r))
			}
		case map[string]any:
			for _, k := range sortedKeys(x) {
				lists[i] = append(lists[i], k)
			}
		default:
			return nil, fmt.Errorf("TypeError: zip argument #%d must support iteration", i+1)
		}
	}
	if len(lists) == 0 {
		return []any{}, nil
	}
	if len(lists) == 1 {
		return normal(lists[0]), nil
	}
	n := 0
	for _, l := range lists {
		n = max(n, len(l))
	}
	out := make([]any, n)
	for i := range out {
		row := make([]any, len(lists))
		for j, l := range lists {
			if i < len(l) {
				row[j] = normal(l[i])
			} else {
				row[j] = normal(pad)
			}
		}
		out[i] = row
	}
	return out, nil
}

// st2kv is st2kv(key, decrypt=False, default=…).
func (st *state) st2kv(key any, decrypt any, def any, hasDefault bool) (any, error) {
	k, ok := key.(string)
	if !ok {
		return nil, errors.New("TypeError: Given key is not typeof string.")
	}
	d := false
	if decrypt != nil {
		if d, ok = decrypt.(bool); !ok {
			return nil, errors.New("TypeError: Decrypt parameter is not typeof bool.")
		}
	}
	v, err := st.kv(k, d)
	if err != nil {
		if hasDefault && errors.Is(err, ErrKeyNotFound) {
			return normal(def), nil
		}
		return nil, fmt.Errorf("ExpressionEvaluationException: %w", err)
	}
	return v, nil
}

func (st *state) kv(key string, decrypt bool) (any, error) {
	sc := st.scope()
	if sc.KV == nil {
		return nil, fmt.Errorf("the key-value store is not available here (key %q)", key)
	}
	v, err := sc.KV(key, decrypt)
	if err != nil {
		return nil, err
	}
	return normal(v), nil
}

// jinja glue: every function finds its render's state through the evaluator.

func stateOf(ev *exec.Evaluator) (*state, error) {
	v, ok := jinja.Lookup(ev, stateKey)
	st, _ := v.(*state)
	if !ok || st == nil {
		return nil, errors.New("the workflow context is not set")
	}
	return st, nil
}

// args converts a call's arguments to plain values.
func args(p *exec.VarArgs) ([]any, map[string]any) {
	a := make([]any, len(p.Args))
	for i, v := range p.Args {
		a[i] = normal(jinja.Plain(v))
	}
	var kw map[string]any
	if len(p.KwArgs) > 0 {
		kw = make(map[string]any, len(p.KwArgs))
		for k, v := range p.KwArgs {
			kw[k] = normal(jinja.Plain(v))
		}
	}
	return a, kw
}

func arg(a []any, kw map[string]any, i int, name string) (any, bool) {
	if i < len(a) {
		return a[i], true
	}
	v, ok := kw[name]
	return v, ok
}

func fn(name string, maxArgs int, f func(st *state, a []any, kw map[string]any) (any, error)) jinja.Function {
	return func(ev *exec.Evaluator, p *exec.VarArgs) (any, error) {
		st, err := stateOf(ev)
		if err != nil {
			return nil, err
		}
		if maxArgs >= 0 && len(p.Args) > maxArgs {
			return nil, fmt.Errorf("TypeError: %s() takes at most %d arguments (%d given)", name, maxArgs, len(p.Args))
		}
		a, kw := args(p)
		return f(st, a, kw)
	}
}

// st2Functions are st2's expression functions Orquesta registers, by name, with the filter
// each one is.
var st2Functions = map[string]string{
	"basename": "basename", "dirname": "dirname",
	"from_json_string": "from_json_string", "json_parse": "from_json_string",
	"from_yaml_string": "from_yaml_string", "yaml_parse": "from_yaml_string",
	"to_json_string": "to_json_string", "json_dump": "to_json_string",
	"to_yaml_string": "to_yaml_string", "yaml_dump": "to_yaml_string",
	"json_escape": "json_escape", "jsonpath_query": "jsonpath_query",
	"regex_match": "regex_match", "regex_replace": "regex_replace",
	"regex_search": "regex_search", "regex_substring": "regex_substring",
	"to_human_time_from_seconds": "to_human_time_from_seconds",
	"use_none":                   "use_none",
	"version_compare":            "version_compare", "version_more_than": "version_more_than",
	"version_less_than": "version_less_than", "version_equal": "version_equal",
	"version_match": "version_match", "version_bump_major": "version_bump_major",
	"version_bump_minor": "version_bump_minor", "version_bump_patch": "version_bump_patch",
	"version_strip_patch": "version_strip_patch",
}

// globals are the Jinja functions of lang.
func globals(lang spec.Language, env *jinja.Env) map[string]any {
	g := map[string]any{}
	if lang == spec.Attune {
		maps.Copy(g, attuneBuiltins())
	}
	for name, filter := range st2Functions {
		if f := env.FilterFunc(filter); f != nil {
			g[name] = f
		}
	}
	status := func(name string, want ...string) jinja.Function {
		return fn(name, 0, func(st *state, _ []any, _ map[string]any) (any, error) { return st.statusIs(want...) })
	}
	g["ctx"] = fn("ctx", 1, func(st *state, a []any, kw map[string]any) (any, error) {
		k, _ := arg(a, kw, 0, "key")
		return st.ctxVar(k)
	})
	g["result"] = fn("result", 0, func(st *state, _ []any, _ map[string]any) (any, error) {
		t, err := st.current()
		if err != nil {
			return nil, err
		}
		return normal(t.Result), nil
	})
	g["succeeded"] = status("succeeded", StatusSucceeded)
	g["failed"] = status("failed", failedStatuses(lang)...)
	g["completed"] = status("completed", completedStatuses...)
	g["timed_out"] = status("timed_out", StatusTimedOut)
	g["cancelled"] = status("cancelled", StatusCanceled)
	g["canceled"] = status("canceled", StatusCanceled)
	g["task_status"] = fn("task_status", 2, func(st *state, a []any, kw map[string]any) (any, error) {
		k, _ := arg(a, kw, 0, "task_id")
		return st.taskStatus(k)
	})
	g["task"] = fn("task", 2, func(st *state, a []any, kw map[string]any) (any, error) {
		k, _ := arg(a, kw, 0, "task_id")
		return st.task(k)
	})
	g["item"] = fn("item", 1, func(st *state, a []any, kw map[string]any) (any, error) {
		k, _ := arg(a, kw, 0, "key")
		return st.item(k)
	})
	g["json"] = fn("json", 1, func(_ *state, a []any, _ map[string]any) (any, error) {
		if len(a) != 1 {
			return nil, errors.New("TypeError: json() takes exactly one argument")
		}
		return jsonFn(a[0])
	})
	g["zip"] = fn("zip", -1, func(_ *state, a []any, kw map[string]any) (any, error) {
		return zipFn(a, kw["pad"])
	})
	g["st2kv"] = fn("st2kv", 1, func(st *state, a []any, kw map[string]any) (any, error) {
		if len(a) != 1 {
			return nil, errors.New("TypeError: st2kv() takes the key")
		}
		def, has := kw["default"]
		return st.st2kv(a[0], kw["decrypt"], def, has)
	})
	g["keystore"] = fn("keystore", 1, func(st *state, a []any, kw map[string]any) (any, error) {
		k, _ := arg(a, kw, 0, "key")
		s, ok := k.(string)
		if !ok {
			return nil, errors.New("TypeError: keystore() takes the key name")
		}
		return st.kv(s, true)
	})
	return g
}
