package spec

import (
	"gopkg.in/yaml.v3"
)

var (
	chainTop  = set("chain", "default", "vars")
	chainNode = set("name", "ref", "params", "parameters", "on-success", "on-failure", "publish", "notify", "description")
)

// Conditions given to the transitions an action-chain node's on-success and on-failure become.
// A chain follows on-failure for failed and timed-out actions alike, which is Jinja failed()
// in the engine's task functions.
const (
	chainSucceeded = "{{ succeeded() }}"
	chainFailed    = "{{ failed() }}"
)

// actionChain converts a chain into the task graph: each node is a task running ref with
// params; its publish is rendered after the action ends whatever its outcome (as StackStorm's
// runner does), so it goes on both transitions; on-success becomes the target of the
// succeeded() transition, on-failure of the failed() one; a missing one leaves continue, so a
// failure without on-failure fails the workflow. The start task is default, else the first
// node no other node names, else the first node.
func (p *parser) actionChain(root *yaml.Node, wf *Workflow) {
	top := p.pairs(root, "", "")
	p.checkKeys(top, chainTop, "", "")
	var chain, def *yaml.Node
	for _, kv := range top {
		switch kv.key {
		case "chain":
			chain = kv.v
		case "default":
			def = kv.v
		case "vars":
			wf.Vars = p.mapAssigns(kv.v, "", "vars")
		}
	}
	cn := deref(chain)
	if cn == nil {
		p.add(root, "", "chain", "is required")
		return
	}
	if cn.Kind != yaml.SequenceNode {
		p.add(chain, "", "chain", "must be a list of nodes, not %s", kindName(chain))
		return
	}
	if len(cn.Content) == 0 {
		p.add(chain, "", "chain", "must hold at least one node")
	}
	referenced := map[string]bool{}
	for i, c := range cn.Content {
		field := index("chain", i)
		t := p.chainTask(c, field)
		if t == nil {
			continue
		}
		if _, dup := wf.Tasks[t.Name]; dup {
			p.add(c, t.Name, join(field, "name"), "node %q is defined twice", t.Name)
			continue
		}
		wf.Tasks[t.Name] = t
		wf.Order = append(wf.Order, t.Name)
		for _, tr := range t.Transitions {
			for _, d := range tr.Do {
				referenced[d.Name] = true
			}
		}
	}
	if def != nil {
		if s, ok := p.nonEmptyStr(def, "", "default"); ok {
			if _, found := wf.Tasks[s]; !found && ExprLangOf(s) == NoExpr {
				p.add(def, "", "default", "names the node %q, which the chain does not define", s)
			}
			wf.Start = []string{s}
		}
		return
	}
	for _, name := range wf.Order {
		if !referenced[name] {
			wf.Start = []string{name}
			return
		}
	}
	if len(wf.Order) > 0 {
		wf.Start = []string{wf.Order[0]}
	}
}

func (p *parser) chainTask(n *yaml.Node, field string) *Task {
	v := deref(n)
	if v == nil || v.Kind != yaml.MappingNode {
		p.add(n, "", field, "must be a node mapping, not %s", kindName(n))
		return nil
	}
	ps := p.pairs(v, "", field)
	name := ""
	for _, kv := range ps {
		if kv.key == "name" {
			name, _ = p.nonEmptyStr(kv.v, "", join(field, "name"))
		}
	}
	if name == "" {
		p.add(v, "", join(field, "name"), "is required")
		return nil
	}
	t := &Task{Name: name, Line: v.Line, Extra: map[string]any{}, path: field}
	p.checkKeys(ps, chainNode, name, field)
	var publish []Assign
	var onSuccess, onFailure []Target
	var params, parameters *yaml.Node
	hasRef := false
	lines := map[string]int{"on-success": v.Line, "on-failure": v.Line}
	t.lines = map[string]int{}
	for _, kv := range ps {
		f := join(field, kv.key)
		lines[kv.key] = kv.kn.Line
		t.lines[kv.key] = kv.kn.Line
		switch kv.key {
		case "ref":
			t.Action, _ = p.nonEmptyStr(kv.v, name, f)
			hasRef = true
		case "params":
			params = kv.v
		case "parameters":
			parameters = kv.v
		case "publish":
			if deref(kv.v).Kind != yaml.MappingNode && !isNull(kv.v) {
				p.add(kv.v, name, f, "must be a mapping of variable to value, not %s", kindName(kv.v))
				continue
			}
			publish = p.mapAssigns(kv.v, name, f)
		case "on-success", "on-failure":
			s, ok := p.str(kv.v, name, f)
			if !ok || s == "" {
				continue
			}
			kind := TargetTask
			if ExprLangOf(s) != NoExpr {
				kind = TargetDynamic
			}
			tg := []Target{{Kind: kind, Name: s}}
			if kv.key == "on-success" {
				onSuccess = tg
			} else {
				onFailure = tg
			}
		case "notify", "description":
			t.Extra[kv.key] = p.value(kv.v, 0)
		}
	}
	if !hasRef {
		p.add(v, name, join(field, "ref"), "is required: name the action the node runs")
	}
	if params != nil && parameters != nil && !isNull(params) && !isNull(parameters) {
		p.add(parameters, name, join(field, "parameters"), `either "params" or "parameters" may be given, not both`)
	}
	for _, pn := range []*yaml.Node{params, parameters} {
		if pn == nil || isNull(pn) {
			continue
		}
		if deref(pn).Kind != yaml.MappingNode {
			p.add(pn, name, field, "parameters must be a mapping, not %s", kindName(pn))
			continue
		}
		if m, ok := p.value(pn, 0).(map[string]any); ok && len(m) > 0 {
			t.Input = m
		}
	}
	cont := []Target{{Kind: TargetContinue, Name: "continue"}}
	if onSuccess == nil {
		onSuccess = cont
	}
	if onFailure == nil {
		onFailure = cont
	}
	t.Transitions = []Transition{
		{When: chainSucceeded, Publish: publish, Do: onSuccess, Line: lines["on-success"], path: field, doPath: join(field, "on-success")},
		{When: chainFailed, Publish: publish, Do: onFailure, Line: lines["on-failure"], path: field, doPath: join(field, "on-failure")},
	}
	if len(t.Extra) == 0 {
		t.Extra = nil
	}
	return t
}
