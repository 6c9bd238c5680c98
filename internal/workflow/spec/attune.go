package spec

import (
	"gopkg.in/yaml.v3"
)

var (
	// attuneTop: the reference's workflow keys, plus the header keys the manifest reads from
	// standalone workflows/ files (ref, name, label, description, pack, enabled).
	attuneTop = set("version", "ref", "name", "label", "description", "pack", "enabled", "parameters", "output",
		"output_schema", "vars", "tasks", "output_map", "tags", "cancellation_policy")
	attuneTask = set("name", "type", "description", "action", "input", "next", "retry", "timeout", "delay",
		"with_items", "batch_size", "concurrency", "iterate_cache", "when", "join", "wait_for",
		"permission_set_refs", "trace_tag_template", "worker_selector", "tolerations", "affinity",
		"on_success", "on_failure", "on_complete", "on_timeout", "decision", "publish")
	attuneRetry = set("count", "delay", "backoff", "max_delay", "when")
	// attuneExtra are task keys kept raw in Task.Extra for the engine.
	attuneExtra = set("wait_for", "iterate_cache", "permission_set_refs", "trace_tag_template",
		"worker_selector", "tolerations", "affinity")
	// legacyTransitions are the task-level transitions normalised into next, with their condition.
	legacyTransitions = []struct{ key, when string }{
		{"on_success", "{{ succeeded() }}"},
		{"on_failure", "{{ failed() }}"},
		{"on_timeout", "{{ timed_out() }}"},
		{"on_complete", ""},
	}
)

func (p *parser) attune(root *yaml.Node, wf *Workflow) {
	top := p.pairs(root, "", "")
	p.checkKeys(top, attuneTop, "", "")
	var tasks *yaml.Node
	for _, kv := range top {
		switch kv.key {
		case "version":
			if s, ok := scalar(deref(kv.v)).(string); ok {
				wf.Version = s
			} else if !isNull(kv.v) {
				wf.Version = deref(kv.v).Value
			}
		case "description":
			wf.Description, _ = p.str(kv.v, "", kv.key)
		case "ref", "name", "label", "cancellation_policy":
			if s, ok := p.str(kv.v, "", kv.key); ok {
				wf.Extra[kv.key] = s
			}
			if kv.key == "cancellation_policy" {
				if s := deref(kv.v).Value; s != "allow_finish" && s != "cancel_running" {
					p.add(kv.v, "", kv.key, "must be allow_finish or cancel_running, not %q", s)
				}
			}
		case "tags", "output", "output_schema", "pack", "enabled":
			wf.Extra[kv.key] = p.value(kv.v, 0)
		case "parameters":
			wf.Extra[kv.key] = p.value(kv.v, 0)
			for _, prm := range p.pairs(kv.v, "", kv.key) {
				in := Param{Name: prm.key, Line: prm.kn.Line}
				for _, f := range p.pairs(prm.v, "", join(kv.key, prm.key)) {
					if f.key == "default" {
						in.Default, in.HasDefault = p.value(f.v, 0), true
					}
				}
				wf.Input = append(wf.Input, in)
			}
		case "vars":
			wf.Vars = p.mapAssigns(kv.v, "", "vars")
		case "output_map":
			wf.Output = p.mapAssigns(kv.v, "", "output_map")
		case "tasks":
			tasks = kv.v
		}
	}
	tn := deref(tasks)
	switch {
	case tn == nil:
		p.add(root, "", "tasks", "is required")
	case tn.Kind == yaml.SequenceNode:
		if len(tn.Content) == 0 {
			p.add(tn, "", "tasks", "must hold at least one task")
		}
		for i, c := range tn.Content {
			field := index("tasks", i)
			cn := deref(c)
			if cn == nil || cn.Kind != yaml.MappingNode {
				p.add(c, "", field, "must be a task mapping, not %s", kindName(c))
				continue
			}
			name := ""
			for _, kv := range p.pairs(cn, "", field) {
				if kv.key == "name" {
					name, _ = p.nonEmptyStr(kv.v, "", join(field, "name"))
				}
			}
			if name == "" {
				p.add(cn, "", join(field, "name"), "is required")
				continue
			}
			p.addAttuneTask(wf, name, cn, cn, field)
		}
	case tn.Kind == yaml.MappingNode:
		// Older documents key tasks by name.
		ps := p.pairs(tn, "", "tasks")
		if len(ps) == 0 {
			p.add(tn, "", "tasks", "must hold at least one task")
		}
		for _, kv := range ps {
			p.addAttuneTask(wf, kv.key, kv.kn, kv.v, "tasks."+kv.key)
		}
	default:
		p.add(tasks, "", "tasks", "must be a list of tasks, not %s", kindName(tasks))
	}
}

func (p *parser) addAttuneTask(wf *Workflow, name string, kn, n *yaml.Node, field string) {
	if _, dup := wf.Tasks[name]; dup {
		p.add(kn, name, field, "task %q is defined twice", name)
		return
	}
	if _, ok := reserved[name]; ok {
		p.add(kn, name, field, "the task name %q is reserved with special function", name)
		return
	}
	t := p.attuneTask(name, kn, n, field)
	wf.Tasks[name] = t
	wf.Order = append(wf.Order, name)
}

// mapAssigns reads a mapping of name to value in file order (attune vars, output_map,
// publish written as a mapping).
func (p *parser) mapAssigns(n *yaml.Node, task, field string) []Assign {
	v := deref(n)
	if isNull(v) {
		return nil
	}
	if v.Kind == yaml.SequenceNode {
		return p.oneKeyList(v, task, field)
	}
	if v.Kind != yaml.MappingNode {
		p.add(n, task, field, "must be a mapping of name to value, not %s", kindName(n))
		return nil
	}
	var out []Assign
	for _, kv := range p.pairs(v, task, field) {
		out = append(out, Assign{Name: kv.key, Value: p.value(kv.v, 0), Line: kv.kn.Line})
	}
	return out
}

func (p *parser) attuneTask(name string, kn, n *yaml.Node, field string) *Task {
	t := &Task{Name: name, Line: kn.Line, Extra: map[string]any{}, path: field}
	if deref(n) == nil || deref(n).Kind != yaml.MappingNode {
		p.add(n, name, field, "must be a mapping, not %s", kindName(n))
		return t
	}
	ps := p.pairs(n, name, field)
	p.checkKeys(ps, attuneTask, name, field)
	byKey := map[string]pair{}
	for _, kv := range ps {
		byKey[kv.key] = kv
	}
	var concurrency, batch *Number
	var concNode *yaml.Node
	t.lines = map[string]int{}
	for _, kv := range ps {
		f := join(field, kv.key)
		t.lines[kv.key] = kv.kn.Line
		switch kv.key {
		case "type":
			s, _ := p.str(kv.v, name, f)
			switch s {
			case "", "action", "workflow":
			case "parallel":
				p.add(kv.v, name, f, "type parallel is not supported: give the parallel tasks their own entries and fan out with next")
			default:
				p.add(kv.v, name, f, "must be action or workflow, not %q", s)
			}
		case "action":
			t.Action, _ = p.nonEmptyStr(kv.v, name, f)
		case "input":
			if isNull(kv.v) {
				continue
			}
			if deref(kv.v).Kind != yaml.MappingNode {
				p.add(kv.v, name, f, "must be a mapping of parameter to value, not %s", kindName(kv.v))
				continue
			}
			t.Input, _ = p.value(kv.v, 0).(map[string]any)
		case "next":
			v := deref(kv.v)
			if isNull(v) {
				continue
			}
			if v.Kind != yaml.SequenceNode {
				p.add(kv.v, name, f, "must be a list of transitions, not %s", kindName(v))
				continue
			}
			for i, c := range v.Content {
				if tr, ok := p.attuneTransition(c, name, index(f, i)); ok {
					t.Transitions = append(t.Transitions, tr)
				}
			}
		case "retry":
			t.Retry = p.attuneRetry(kv.v, name, f)
		case "timeout":
			t.Timeout, _ = p.number(kv.v, name, f)
		case "delay":
			t.Delay, _ = p.number(kv.v, name, f)
		case "with_items":
			v := deref(kv.v)
			switch {
			case v.Kind == yaml.ScalarNode && v.Tag == "!!str" && ExprLangOf(v.Value) == Jinja:
				t.Items = &Items{Expr: v.Value}
			case v.Kind == yaml.SequenceNode:
				lit, _ := p.value(v, 0).([]any)
				t.Items = &Items{Literal: lit}
			default:
				p.add(kv.v, name, f, "must be a {{ }} expression that renders a list, or a list, not %s", describe(kv.v))
			}
		case "batch_size":
			batch, _ = p.number(kv.v, name, f)
			if batch != nil && batch.Expr == "" && batch.Value == 0 {
				p.add(kv.v, name, f, "must be at least 1")
			}
		case "concurrency":
			concurrency, _ = p.number(kv.v, name, f)
			concNode = kv.v
			if concurrency != nil && concurrency.Expr == "" && concurrency.Value == 0 {
				p.add(kv.v, name, f, "must be at least 1")
			}
		case "when":
			t.Guard, _ = p.nonEmptyStr(kv.v, name, f)
		case "join":
			t.Join = p.joinSpec(kv.v, name, f)
		case "description":
			if _, ok := p.str(kv.v, name, f); ok {
				t.Extra[kv.key] = deref(kv.v).Value
			}
		default:
			if attuneExtra[kv.key] {
				t.Extra[kv.key] = p.value(kv.v, 0)
			}
		}
	}
	typ := ""
	if kv, ok := byKey["type"]; ok {
		typ = deref(kv.v).Value
	}
	if _, has := byKey["action"]; !has && typ != "parallel" {
		p.add(kn, name, join(field, "action"), "is required: name the action the task runs")
	}
	if t.Items != nil {
		t.Items.Concurrency = concurrency
		if t.Items.Concurrency == nil {
			t.Items.Concurrency = &Number{Value: 1}
		}
		t.Items.BatchSize = batch
		if _, both := byKey["iterate_cache"]; both {
			p.add(byKey["iterate_cache"].kn, name, join(field, "iterate_cache"), "cannot be used together with with_items")
		}
	} else if _, bad := byKey["with_items"]; bad {
		// with_items was refused above; its companions are not reported again.
	} else if concNode != nil {
		p.add(concNode, name, join(field, "concurrency"), "only applies to a with_items task")
	} else if batch != nil {
		p.add(byKey["batch_size"].kn, name, join(field, "batch_size"), "only applies to a with_items task")
	}
	if len(t.Extra) == 0 {
		t.Extra = nil
	}
	p.attuneLegacy(t, byKey, field)
	return t
}

// attuneLegacy normalises on_success, on_failure, on_timeout, on_complete, decision and
// task-level publish into transitions; they are ignored when next is present, as the reference
// parser does.
func (p *parser) attuneLegacy(t *Task, byKey map[string]pair, field string) {
	_, hasNext := byKey["next"]
	var legacy []Transition
	if kv, ok := byKey["publish"]; ok {
		legacy = append(legacy, Transition{When: "{{ succeeded() }}", Publish: p.mapAssigns(kv.v, t.Name, join(field, "publish")),
			Do: []Target{{Kind: TargetContinue, Name: "continue"}}, Line: kv.kn.Line,
			path: join(field, "publish"), doPath: join(field, "publish")})
	}
	for _, lt := range legacyTransitions {
		kv, ok := byKey[lt.key]
		if !ok {
			continue
		}
		if do := p.targets(kv.v, t.Name, join(field, lt.key), false); len(do) > 0 {
			legacy = append(legacy, Transition{When: lt.when, Do: do, Line: kv.kn.Line,
				path: join(field, lt.key), doPath: join(field, lt.key)})
		}
	}
	if kv, ok := byKey["decision"]; ok {
		f := join(field, "decision")
		v := deref(kv.v)
		if v.Kind != yaml.SequenceNode {
			p.add(kv.v, t.Name, f, "must be a list of {when, next}, not %s", kindName(v))
		} else {
			for i, c := range v.Content {
				cf := index(f, i)
				tr := Transition{Line: deref(c).Line, path: cf, doPath: join(cf, "next")}
				ps := p.pairs(c, t.Name, cf)
				if deref(c).Kind != yaml.MappingNode {
					p.add(c, t.Name, cf, "must be a mapping with when and next, not %s", kindName(c))
					continue
				}
				p.checkKeys(ps, set("when", "next", "default"), t.Name, cf)
				for _, e := range ps {
					switch e.key {
					case "when":
						tr.When, _ = p.nonEmptyStr(e.v, t.Name, join(cf, "when"))
					case "next":
						tr.Do = p.targets(e.v, t.Name, join(cf, "next"), false)
					}
				}
				if len(tr.Do) > 0 {
					legacy = append(legacy, tr)
				}
			}
		}
	}
	if !hasNext {
		t.Transitions = legacy
	}
}

func (p *parser) attuneTransition(n *yaml.Node, task, field string) (Transition, bool) {
	v := deref(n)
	if v == nil || v.Kind != yaml.MappingNode {
		p.add(n, task, field, "must be a mapping with when, publish and do, not %s", kindName(n))
		return Transition{}, false
	}
	tr := Transition{Line: v.Line, path: field, doPath: join(field, "do")}
	ps := p.pairs(v, task, field)
	p.checkKeys(ps, orquestaNext, task, field)
	ok := true
	for _, kv := range ps {
		f := join(field, kv.key)
		switch kv.key {
		case "when":
			s, good := p.nonEmptyStr(kv.v, task, f)
			tr.When, ok = s, ok && good
		case "publish":
			tr.Publish = p.mapAssigns(kv.v, task, f)
		case "do":
			tr.Do = p.targets(kv.v, task, f, false)
			if dv := deref(kv.v); dv != nil {
				tr.doLine = dv.Line
			}
		}
	}
	if len(tr.Do) == 0 {
		tr.Do = []Target{{Kind: TargetContinue, Name: "continue"}}
	}
	return tr, ok
}

func (p *parser) attuneRetry(n *yaml.Node, task, field string) *Retry {
	v := deref(n)
	if v == nil || v.Kind != yaml.MappingNode {
		p.add(n, task, field, "must be a mapping with count, delay, backoff and max_delay, not %s", kindName(n))
		return nil
	}
	ps := p.pairs(v, task, field)
	p.checkKeys(ps, attuneRetry, task, field)
	r := &Retry{Backoff: "constant"}
	hasCount := false
	for _, kv := range ps {
		f := join(field, kv.key)
		switch kv.key {
		case "count":
			if num, ok := p.number(kv.v, task, f); ok {
				r.Count = *num
			}
			hasCount = true
		case "delay":
			r.Delay, _ = p.number(kv.v, task, f)
		case "max_delay":
			r.MaxDelay, _ = p.number(kv.v, task, f)
		case "when":
			r.When, _ = p.nonEmptyStr(kv.v, task, f)
		case "backoff":
			s, _ := p.str(kv.v, task, f)
			switch s {
			case "constant", "linear", "exponential":
				r.Backoff = s
			default:
				p.add(kv.v, task, f, "must be constant, linear or exponential, not %q", s)
			}
		}
	}
	if !hasCount {
		p.add(v, task, join(field, "count"), "is required")
	}
	return r
}
