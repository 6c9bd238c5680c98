package spec

import (
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// reserved are Orquesta's engine commands, usable in do and refused as task names.
var reserved = map[string]TargetKind{
	"continue": TargetContinue, "fail": TargetFail, "noop": TargetNoop, "retry": TargetRetry,
}

// taskNamePattern: Orquesta validates tasks named ^\w+$ and keeps others unvalidated; we refuse
// only names that cannot be written in do (empty, blank, with a comma or white space).
var taskNamePattern = regexp.MustCompile(`^[^\s,]+$`)

// itemsPattern is Orquesta's with-items syntax: an expression alone, or "x, y in <expression>".
var itemsPattern = regexp.MustCompile(`^\s*({{.*?}}|<%.*?%>)\s*$|^\s*((?:\w+,\s?|\s+)+)?(\w+)\s+in\s+({{.*?}}|<%.*?%>)\s*$`)

var (
	orquestaTop   = set("version", "description", "name", "tags", "input", "vars", "output", "tasks")
	orquestaTask  = set("delay", "join", "with", "action", "input", "retry", "next")
	orquestaNext  = set("when", "publish", "do")
	orquestaWith  = set("items", "concurrency")
	orquestaRetry = set("when", "count", "delay")
)

func (p *parser) orquesta(root *yaml.Node, wf *Workflow) {
	top := p.pairs(root, "", "")
	p.checkKeys(top, orquestaTop, "", "")
	var tasks *yaml.Node
	for _, kv := range top {
		switch kv.key {
		case "version":
			if f, ok := scalar(deref(kv.v)).(float64); !(ok && f == 1) && scalar(deref(kv.v)) != "1.0" && scalar(deref(kv.v)) != int64(1) {
				p.add(kv.v, "", "version", "must be 1.0, not %s", describe(kv.v))
			}
			wf.Version = "1.0"
		case "description", "name":
			if s, ok := p.nonEmptyStr(kv.v, "", kv.key); ok && kv.key == "description" {
				wf.Description = s
			}
		case "tags":
			p.stringList(kv.v, "", "tags")
		case "input":
			wf.Input = p.orquestaInput(kv.v)
		case "vars":
			wf.Vars = p.oneKeyList(kv.v, "", "vars")
		case "output":
			wf.Output = p.oneKeyList(kv.v, "", "output")
		case "tasks":
			tasks = kv.v
		}
	}
	if tasks == nil {
		p.add(root, "", "tasks", "is required")
		return
	}
	if deref(tasks).Kind != yaml.MappingNode {
		p.add(tasks, "", "tasks", "must be a mapping of task name to task, not %s", kindName(tasks))
		return
	}
	ps := p.pairs(tasks, "", "tasks")
	if len(ps) == 0 {
		p.add(tasks, "", "tasks", "must hold at least one task")
	}
	for _, kv := range ps {
		field := "tasks." + kv.key
		if !taskNamePattern.MatchString(kv.key) {
			p.add(kv.kn, kv.key, field, "a task name must not be empty or hold white space or commas")
			continue
		}
		if _, ok := reserved[kv.key]; ok {
			p.add(kv.kn, kv.key, field, "the task name %q is reserved with special function", kv.key)
			continue
		}
		t := p.orquestaTask(kv.key, kv.kn, kv.v, field)
		wf.Tasks[t.Name] = t
		wf.Order = append(wf.Order, t.Name)
	}
}

// orquestaInput reads input: names, or one-key mappings of name to default.
func (p *parser) orquestaInput(n *yaml.Node) []Param {
	n = deref(n)
	if n == nil || n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.add(n, "", "input", "must be a non-empty list of names or of {name: default}, not %s", kindName(n))
		return nil
	}
	var out []Param
	seen := map[string]bool{}
	for i, c := range n.Content {
		c = deref(c)
		field := index("input", i)
		var prm Param
		switch {
		case c != nil && c.Kind == yaml.ScalarNode && c.Tag == "!!str" && c.Value != "":
			prm = Param{Name: c.Value, Line: c.Line}
		case c != nil && c.Kind == yaml.MappingNode && len(c.Content) == 2:
			k := deref(c.Content[0])
			if k.Value == "" {
				p.add(k, "", field, "input names must not be empty")
				continue
			}
			prm = Param{Name: k.Value, Default: p.value(c.Content[1], 0), HasDefault: true, Line: c.Line}
		default:
			p.add(c, "", field, "must be a name or a mapping of one name to its default")
			continue
		}
		if seen[prm.Name] {
			p.add(c, "", field, "input %q is listed twice", prm.Name)
			continue
		}
		seen[prm.Name] = true
		out = append(out, prm)
	}
	return out
}

// oneKeyList reads a list of one-key mappings (Orquesta vars, output, publish).
func (p *parser) oneKeyList(n *yaml.Node, task, field string) []Assign {
	n = deref(n)
	if n == nil || n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		p.add(n, task, field, "must be a non-empty list of {name: value}, not %s", kindName(n))
		return nil
	}
	var out []Assign
	for i, c := range n.Content {
		c = deref(c)
		f := index(field, i)
		if c == nil || c.Kind != yaml.MappingNode || len(c.Content) != 2 {
			p.add(c, task, f, "must be a mapping of exactly one name to a value, not %s", kindName(c))
			continue
		}
		k := deref(c.Content[0])
		if k.Value == "" {
			p.add(k, task, f, "names must not be empty")
			continue
		}
		out = append(out, Assign{Name: k.Value, Value: p.value(c.Content[1], 0), Line: c.Line})
	}
	return out
}

func (p *parser) stringList(n *yaml.Node, task, field string) []string {
	n = deref(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		p.add(n, task, field, "must be a list of strings, not %s", kindName(n))
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for i, c := range n.Content {
		s, ok := p.nonEmptyStr(c, task, index(field, i))
		if !ok {
			continue
		}
		if seen[s] {
			p.add(c, task, index(field, i), "%q is listed twice", s)
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

func (p *parser) orquestaTask(name string, kn, n *yaml.Node, field string) *Task {
	t := &Task{Name: name, Line: kn.Line, path: field}
	if deref(n) == nil || deref(n).Kind != yaml.MappingNode {
		if !isNull(n) {
			p.add(n, name, field, "must be a mapping, not %s", kindName(n))
		}
		return t
	}
	ps := p.pairs(n, name, field)
	p.checkKeys(ps, orquestaTask, name, field)
	var inline map[string]any
	t.lines = map[string]int{}
	for _, kv := range ps {
		f := join(field, kv.key)
		t.lines[kv.key] = kv.kn.Line
		switch kv.key {
		case "action":
			s, ok := p.nonEmptyStr(kv.v, name, f)
			if !ok {
				continue
			}
			t.Action = s
			if params := parseInlineParams(s); len(params) > 0 && strings.Contains(s, " ") {
				t.Action = s[:strings.Index(s, " ")]
				inline = map[string]any{}
				for _, a := range params {
					inline[a.Name] = a.Value
				}
			}
		case "input":
			v := deref(kv.v)
			switch {
			case v != nil && v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value != "":
				t.Input = map[string]any{}
				for _, a := range parseInlineParams(v.Value) {
					t.Input[a.Name] = a.Value
				}
			case v != nil && v.Kind == yaml.MappingNode && len(v.Content) > 0:
				t.Input, _ = p.value(v, 0).(map[string]any)
				p.pairs(v, name, f) // duplicate keys
			default:
				p.add(kv.v, name, f, "must be a non-empty mapping or a string of key=value pairs, not %s", kindName(kv.v))
			}
		case "delay":
			t.Delay, _ = p.number(kv.v, name, f)
		case "join":
			t.Join = p.joinSpec(kv.v, name, f)
		case "with":
			t.Items = p.orquestaWith(kv.v, name, f)
		case "retry":
			t.Retry = p.orquestaRetry(kv.v, name, f)
		case "next":
			v := deref(kv.v)
			if v == nil || v.Kind != yaml.SequenceNode {
				if !isNull(v) {
					p.add(kv.v, name, f, "must be a list of transitions, not %s", kindName(v))
				}
				continue
			}
			for i, c := range v.Content {
				if tr, ok := p.orquestaTransition(c, name, index(f, i)); ok {
					t.Transitions = append(t.Transitions, tr)
				}
			}
		}
	}
	for _, tr := range t.Transitions {
		for _, d := range tr.Do {
			if d.Kind == TargetRetry {
				// Orquesta's composer turns "do: retry" into the task's retry: up to 3 times, no
				// delay, while the transition's condition holds (completed() when it has none).
				when := tr.When
				if when == "" {
					when = "<% completed() %>"
				}
				t.Retry = &Retry{When: when, Count: Number{Value: 3}}
			}
		}
	}
	if inline != nil {
		// Orquesta: inline parameters in action replace input.
		t.Input = inline
	}
	if t.Items != nil && t.Action == "" {
		p.add(kn, name, field, "the action property is required for a with-items task")
	}
	return t
}

func (p *parser) joinSpec(n *yaml.Node, task, field string) *Join {
	v := deref(n)
	if v != nil && v.Kind == yaml.ScalarNode {
		if v.Tag == "!!str" && v.Value == "all" {
			return &Join{All: true}
		}
		if v.Tag == "!!int" {
			if num, ok := p.number(v, task, field); ok {
				return &Join{Count: int(min(num.Value, 1<<30))}
			}
			return nil
		}
	}
	p.add(n, task, field, `must be "all" or a number of inbound tasks, not %s`, describe(n))
	return nil
}

func (p *parser) orquestaWith(n *yaml.Node, task, field string) *Items {
	v := deref(n)
	var itemsNode, concNode *yaml.Node
	switch {
	case v != nil && v.Kind == yaml.ScalarNode:
		itemsNode = v
	case v != nil && v.Kind == yaml.MappingNode:
		ps := p.pairs(v, task, field)
		p.checkKeys(ps, orquestaWith, task, field)
		for _, kv := range ps {
			switch kv.key {
			case "items":
				itemsNode = kv.v
			case "concurrency":
				concNode = kv.v
			}
		}
		if itemsNode == nil {
			p.add(v, task, join(field, "items"), "is required")
			return nil
		}
	default:
		p.add(n, task, field, "must be an items expression or a mapping with items and concurrency, not %s", kindName(n))
		return nil
	}
	f := join(field, "items")
	s, ok := p.nonEmptyStr(itemsNode, task, f)
	if !ok {
		return nil
	}
	it := &Items{}
	m := itemsPattern.FindStringSubmatch(s)
	if m == nil {
		p.add(itemsNode, task, f, `%q is not "<expression>" or "x, y in <expression>"`, s)
		return nil
	}
	if m[1] != "" {
		it.Expr = m[1]
	} else {
		it.Expr = m[4]
		for _, part := range strings.Split(m[2], ",") {
			if part = strings.TrimSpace(part); part != "" {
				it.Vars = append(it.Vars, part)
			}
		}
		it.Vars = append(it.Vars, m[3])
	}
	if concNode != nil {
		it.Concurrency, _ = p.number(concNode, task, join(field, "concurrency"))
	}
	return it
}

func (p *parser) orquestaRetry(n *yaml.Node, task, field string) *Retry {
	v := deref(n)
	if v == nil || v.Kind != yaml.MappingNode {
		p.add(n, task, field, "must be a mapping with count, delay and when, not %s", kindName(n))
		return nil
	}
	ps := p.pairs(v, task, field)
	p.checkKeys(ps, orquestaRetry, task, field)
	r := &Retry{}
	hasCount := false
	for _, kv := range ps {
		f := join(field, kv.key)
		switch kv.key {
		case "when":
			r.When, _ = p.nonEmptyStr(kv.v, task, f)
		case "count":
			if num, ok := p.number(kv.v, task, f); ok {
				r.Count = *num
			}
			hasCount = true
		case "delay":
			r.Delay, _ = p.number(kv.v, task, f)
		}
	}
	if !hasCount {
		p.add(v, task, join(field, "count"), "is required")
	}
	return r
}

func (p *parser) orquestaTransition(n *yaml.Node, task, field string) (Transition, bool) {
	v := deref(n)
	tr := Transition{Line: 0}
	if v == nil || v.Kind != yaml.MappingNode {
		p.add(n, task, field, "must be a mapping with when, publish and do, not %s", kindName(n))
		return tr, false
	}
	tr.Line, tr.path, tr.doPath = v.Line, field, join(field, "do")
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
			pv := deref(kv.v)
			if pv != nil && pv.Kind == yaml.ScalarNode && pv.Tag == "!!str" && pv.Value != "" {
				tr.Publish = parseInlineParams(pv.Value)
				for i := range tr.Publish {
					tr.Publish[i].Line = pv.Line
				}
				continue
			}
			if pv == nil || pv.Kind != yaml.SequenceNode {
				p.add(kv.v, task, f, "must be a list of {name: value} or a string of key=value pairs, not %s", kindName(pv))
				ok = false
				continue
			}
			tr.Publish = p.oneKeyList(pv, task, f)
		case "do":
			tr.Do = p.targets(kv.v, task, f, true)
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

// targets reads do: a name, a comma-separated string of names, or a list of names. Reserved
// words become engine commands.
func (p *parser) targets(n *yaml.Node, task, field string, commaSplit bool) []Target {
	v := deref(n)
	var names []string
	switch {
	case isNull(v):
		return nil
	case v.Kind == yaml.ScalarNode && v.Tag == "!!str" && strings.TrimSpace(v.Value) != "":
		if commaSplit {
			for _, s := range strings.Split(v.Value, ",") {
				names = append(names, strings.TrimSpace(s))
			}
		} else {
			names = []string{strings.TrimSpace(v.Value)}
		}
	case v.Kind == yaml.SequenceNode && len(v.Content) > 0:
		names = p.stringList(v, task, field)
	default:
		p.add(n, task, field, "must be a task name, a comma-separated string of names or a list of names, not %s", kindName(v))
		return nil
	}
	var out []Target
	for _, s := range names {
		if s == "" {
			p.add(n, task, field, "names an empty task")
			continue
		}
		if k, ok := reserved[s]; ok {
			out = append(out, Target{Kind: k, Name: s})
		} else {
			out = append(out, Target{Kind: TargetTask, Name: s})
		}
	}
	return out
}
