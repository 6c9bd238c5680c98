package spec

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"
)

// MaxFileBytes bounds the workflow files Parse reads.
const MaxFileBytes = 4 << 20

var yamlErrLine = regexp.MustCompile(`line (\d+)`)

// Parse reads one workflow file written in lang and validates it as an install would: syntax
// (unknown keys, wrong types), semantics (unknown task in do / on-success / default, reserved
// task names, no start task, unreachable tasks, join on fewer than two inbound tasks, an
// unbounded cycle, with-items without action or with a bad items expression), expressions
// (YAQL parsed by internal/yaql, Jinja by internal/jinja), and for Orquesta the variables
// read before any input, vars or publish assigns them. It returns every problem at once in an
// *Error; a nil error means the workflow is ready for the engine.
func Parse(file string, data []byte, lang Language) (*Workflow, error) {
	wf, err := Inspect(file, data, lang)
	if err != nil {
		return nil, err
	}
	return wf, nil
}

// Inspect is Parse that also returns, with the problems, the workflow as far as it could be
// read: nil only when the file is not a YAML mapping, or not in a known language. An install
// uses it to check the actions of a workflow that has other problems too (CheckActions), so
// that an author sees every problem at once; only a workflow Inspect returns without error is
// fit to run.
func Inspect(file string, data []byte, lang Language) (*Workflow, error) {
	p := &parser{file: file, lang: lang, budget: maxValueNodes}
	wf := &Workflow{Language: lang, File: file, Tasks: map[string]*Task{}, Extra: map[string]any{}}
	switch lang {
	case Attune, Orquesta, ActionChain:
	default:
		return nil, fmt.Errorf("unknown workflow language %q (want attune, orquesta or action-chain)", lang)
	}
	if len(data) > MaxFileBytes {
		p.add(nil, "", "", "the file is %d bytes, more than the %d a workflow may have", len(data), MaxFileBytes)
		return nil, p.err()
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 0
		if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		p.probs = append(p.probs, Problem{File: file, Line: line, Message: "YAML syntax: " + err.Error()})
		return nil, p.err()
	}
	var root *yaml.Node
	if len(doc.Content) > 0 {
		root = deref(doc.Content[0])
	}
	if root == nil || root.Kind != yaml.MappingNode {
		p.add(root, "", "", "a workflow file is a YAML mapping, not %s", kindName(root))
		return nil, p.err()
	}
	switch lang {
	case Attune:
		p.attune(root, wf)
	case Orquesta:
		p.orquesta(root, wf)
	case ActionChain:
		p.actionChain(root, wf)
	}
	if len(wf.Extra) == 0 {
		wf.Extra = nil
	}
	p.graph(wf)
	p.expressions(wf)
	if lang == Orquesta {
		p.context(wf)
	}
	return wf, p.err()
}

// err returns the problems found, ordered by line, or nil.
func (p *parser) err() error {
	if len(p.probs) == 0 {
		return nil
	}
	// Dedupe: Orquesta's checks may find one problem along several paths.
	seen := map[Problem]bool{}
	out := p.probs[:0]
	for _, pr := range p.probs {
		if !seen[pr] {
			seen[pr] = true
			out = append(out, pr)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return &Error{Problems: out}
}
