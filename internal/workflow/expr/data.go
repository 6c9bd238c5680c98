package expr

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"

	"github.com/attune-io/attune/internal/jinja"
	"github.com/attune-io/attune/internal/pyfmt"
	"github.com/attune-io/attune/internal/workflow/spec"
)

// jinjaData is the Jinja variables of the render, built once per Render call.
//
// Orquesta: only the functions (ctx() and the rest) and _ (legacy ctx()).
// attune: parameters, workflow (aliases vars, variables, and each variable by its own name),
// task.<name> (alias tasks), config, keystore.<key>, item and index.
// action-chain (st2's _resolve_params and _render_publish_vars): the parameters, each earlier
// node's result by the node's name, the variables (published ones too) by name, __results,
// st2kv.system / st2kv.user / system (key-value lookups), action_context and config_context.
func (st *state) jinjaVars() *jinja.Vars {
	if st.prepared == nil {
		st.prepared = st.ev.jinja.Prepare(st.jinjaData())
	}
	return st.prepared
}

func (st *state) jinjaData() map[string]any {
	if st.data != nil {
		return st.data
	}
	var d map[string]any
	switch st.ev.lang {
	case spec.Orquesta:
		d = map[string]any{"_": ctxView{st}}
	case spec.ActionChain:
		d = st.chainData()
	default:
		d = st.attuneData()
	}
	d[stateKey] = st
	st.data = d
	return d
}

func (st *state) attuneData() map[string]any {
	sc := st.scope()
	d := make(map[string]any, len(sc.Vars)+12)
	vars := make(map[string]any, len(sc.Vars))
	for k, v := range sc.Vars {
		vars[k] = normal(v)
		d[k] = vars[k]
	}
	params := normal(nonNil(sc.Parameters))
	d["parameters"] = params
	d["workflow"] = vars
	d["vars"] = vars
	d["variables"] = vars
	tv := taskView{st}
	d["task"] = tv
	d["tasks"] = tv
	d["config"] = normal(nonNil(sc.Config))
	d["keystore"] = newKeystoreView(st)
	if sc.HasItem {
		d["item"] = normal(sc.Item)
		d["index"] = int64(sc.Index)
	}
	if sc.St2 != nil {
		d["system"] = normal(sc.St2)
	}
	return d
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func (st *state) chainData() map[string]any {
	sc := st.scope()
	d := make(map[string]any, len(sc.Parameters)+len(sc.Tasks)+len(sc.Vars)+8)
	for k, v := range sc.Parameters {
		d[k] = normal(v)
	}
	results := make(map[string]any, len(sc.Tasks)+1)
	for name, t := range sc.Tasks {
		results[name] = normal(t.Result)
	}
	if sc.Current != nil && sc.CurrentName != "" {
		results[sc.CurrentName] = normal(sc.Current.Result)
	}
	maps.Copy(d, results)
	for k, v := range sc.Vars {
		d[k] = normal(v)
	}
	d["__results"] = results
	system := &kvLookup{st: st, scope: "system"}
	d["st2kv"] = map[string]any{"system": system, "user": &kvLookup{st: st, scope: "user"}}
	d["system"] = system
	parent := map[string]any{}
	for k, v := range sc.St2 {
		parent[k] = normal(v)
	}
	if _, ok := parent["execution_id"]; !ok && sc.St2["action_execution_id"] != nil {
		parent["execution_id"] = normal(sc.St2["action_execution_id"])
	}
	d["action_context"] = map[string]any{"parent": parent}
	d["config_context"] = normal(nonNil(sc.Config))
	return d
}

// ctxView is Orquesta's legacy _: ctx() read lazily.
type ctxView struct{ st *state }

func (v ctxView) JinjaValue() any { return v.st.ctxAll() }
func (v ctxView) String() string  { return pyfmt.Str(v.st.ctxAll()) }
func (v ctxView) GetAttribute(name string) (*exec.Value, bool) {
	x, ok := v.st.ctxAll()[name]
	return exec.AsValue(x), ok
}
func (v ctxView) GetItem(key any) (*exec.Value, bool) {
	s, ok := key.(string)
	if !ok {
		return exec.AsValue(nil), false
	}
	return v.GetAttribute(s)
}

// taskView is attune's task namespace: task.<name> is the task's latest run, its result,
// status and data, with the result's fields (and those of its data, and of its stdout when
// that is a JSON object) at the top too.
type taskView struct{ st *state }

func (v taskView) all() map[string]any {
	out := map[string]any{}
	for name := range v.st.scope().Tasks {
		out[name] = v.one(name)
	}
	return out
}

func (v taskView) one(name string) map[string]any {
	t := v.st.scope().Tasks[name]
	r := normal(t.Result)
	out := map[string]any{}
	if m, ok := r.(map[string]any); ok {
		if s, ok := m["stdout"].(string); ok && strings.HasPrefix(strings.TrimSpace(s), "{") {
			var parsed map[string]any
			if json.Unmarshal([]byte(s), &parsed) == nil {
				for k, e := range parsed {
					out[k] = normal(e)
				}
			}
		}
		if data, ok := m["data"].(map[string]any); ok {
			maps.Copy(out, data)
		}
		maps.Copy(out, m)
		out["data"] = m["data"]
	}
	out["result"] = r
	out["status"] = t.Status
	return out
}

func (v taskView) JinjaValue() any { return v.all() }
func (v taskView) String() string  { return pyfmt.Str(v.all()) }
func (v taskView) GetAttribute(name string) (*exec.Value, bool) {
	if _, ok := v.st.scope().Tasks[name]; !ok {
		return exec.AsValue(nil), false
	}
	return exec.AsValue(v.one(name)), true
}
func (v taskView) GetItem(key any) (*exec.Value, bool) {
	s, ok := key.(string)
	if !ok {
		return exec.AsValue(nil), false
	}
	return v.GetAttribute(s)
}

// keystoreView is attune's keystore namespace: keystore.<key> (and keystore('key')) reads
// the key, decrypted, when the expression looks it up. It is a function with attributes.
type keystoreView func(ev *exec.Evaluator, p *exec.VarArgs) (any, error)

func newKeystoreView(st *state) keystoreView {
	return func(_ *exec.Evaluator, p *exec.VarArgs) (any, error) {
		if len(p.Args) != 1 || !p.Args[0].IsString() {
			return nil, errors.New("TypeError: keystore() takes the key name")
		}
		return st.kv(p.Args[0].String(), true)
	}
}

func (v keystoreView) JinjaValue() any { return map[string]any{} }
func (v keystoreView) String() string  { return "{}" }
func (v keystoreView) GetAttribute(name string) (*exec.Value, bool) {
	p := exec.NewVarArgs()
	p.Args = []*exec.Value{exec.AsValue(name)}
	x, err := v(nil, p)
	if err != nil {
		return exec.AsValue(err), false
	}
	return exec.AsValue(x), true
}
func (v keystoreView) GetItem(key any) (*exec.Value, bool) {
	s, ok := key.(string)
	if !ok {
		return exec.AsValue(nil), false
	}
	return v.GetAttribute(s)
}

// kvLookup is st2's KeyValueLookup: st2kv.system.a.b looks up "a", then "a.b"; each step
// prints as the key's value, "" when there is none.
type kvLookup struct {
	st     *state
	scope  string // system or user
	prefix string
}

func (k *kvLookup) key() string {
	if k.scope == "system" {
		return "system." + k.prefix
	}
	return k.prefix
}

func (k *kvLookup) value() any {
	if k.prefix == "" {
		return ""
	}
	v, err := k.st.kv(k.key(), false)
	if err != nil || v == nil {
		return ""
	}
	return v
}

func (k *kvLookup) JinjaValue() any { return k.value() }

// DecryptKV is decrypt_kv of the key: the key read decrypted.
func (k *kvLookup) DecryptKV() (any, error) {
	if k.prefix == "" {
		return nil, errors.New("no key named")
	}
	v, err := k.st.kv(k.key(), true)
	if err != nil {
		return nil, fmt.Errorf("Referenced datastore item %q doesn't exist or it contains an empty string: %w", "st2kv."+k.scope+"."+k.prefix, err)
	}
	return v, nil
}
func (k *kvLookup) String() string { return pyfmt.Str(k.value()) }
func (k *kvLookup) GetAttribute(name string) (*exec.Value, bool) {
	p := name
	if k.prefix != "" {
		p = k.prefix + "." + name
	}
	return exec.AsValue(&kvLookup{st: k.st, scope: k.scope, prefix: p}), true
}
func (k *kvLookup) GetItem(key any) (*exec.Value, bool) {
	s, ok := key.(string)
	if !ok {
		return exec.AsValue(nil), false
	}
	return k.GetAttribute(s)
}
