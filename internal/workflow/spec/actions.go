package spec

import (
	"fmt"
	"sort"
)

// ActionUse is a literal action ref a task runs, located for install-time checks.
type ActionUse struct {
	Ref  string
	Task string
	File string
	Line int
}

// ActionRefs lists the literal action refs the tasks run, in task order; refs written as
// expressions are rendered at run time and left out.
func (wf *Workflow) ActionRefs() []ActionUse {
	var out []ActionUse
	for _, name := range wf.Order {
		t := wf.Tasks[name]
		if t.Action == "" || ExprLangOf(t.Action) != NoExpr {
			continue
		}
		out = append(out, ActionUse{Ref: t.Action, Task: name, File: wf.File, Line: t.lineOf(actionKey(wf.Language))})
	}
	return out
}

func actionKey(l Language) string {
	if l == ActionChain {
		return "ref"
	}
	return "action"
}

// ActionInfo describes a registered action for CheckActions.
type ActionInfo struct {
	// Params lists every parameter the action accepts: its own and its runner's.
	Params []string
	// Required lists the parameters that must be given: required and without a default.
	Required []string
	// AnyInput says the action takes any input: attune's actions that declare no parameters
	// do (param.Schema.Validate), so no input is unexpected.
	AnyInput bool
}

// CheckActions does what StackStorm's inspect_task_contents does before an Orquesta workflow
// runs, for every language and at install time: each literal action ref must be registered
// (lookup answers from the registry and the pack being installed), every required parameter
// must be in the task's input, and the input may hold only parameters the action knows (any,
// for an action with AnyInput). It returns every problem as an *Error, or nil.
func (wf *Workflow) CheckActions(lookup func(ref string) (ActionInfo, bool)) error {
	var probs []Problem
	for _, u := range wf.ActionRefs() {
		t := wf.Tasks[u.Task]
		info, ok := lookup(u.Ref)
		if !ok {
			probs = append(probs, Problem{File: u.File, Line: u.Line, Task: u.Task, Field: join(t.path, actionKey(wf.Language)),
				Message: fmt.Sprintf("the action %q is not registered", u.Ref)})
			continue
		}
		field, line := join(t.path, "input"), t.lineOf(inputKeyOf(wf.Language, t))
		for _, r := range info.Required {
			if _, given := t.Input[r]; !given {
				probs = append(probs, Problem{File: u.File, Line: line, Task: u.Task, Field: field,
					Message: fmt.Sprintf("action %q is missing required input %q", u.Ref, r)})
			}
		}
		if info.AnyInput {
			continue
		}
		known := map[string]bool{}
		for _, p := range info.Params {
			known[p] = true
		}
		names := make([]string, 0, len(t.Input))
		for k := range t.Input {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if !known[k] {
				probs = append(probs, Problem{File: u.File, Line: line, Task: u.Task, Field: join(field, k),
					Message: fmt.Sprintf("action %q has unexpected input %q", u.Ref, k)})
			}
		}
	}
	if len(probs) == 0 {
		return nil
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	return &Error{Problems: probs}
}

// inputKeyOf names the key a task's input was written under, for its line.
func inputKeyOf(l Language, t *Task) string {
	switch {
	case l == ActionChain && t.lines["parameters"] > 0:
		return "parameters"
	case l == ActionChain:
		return "params"
	case l == Orquesta && t.lines["input"] == 0:
		return "action" // inline parameters
	}
	return "input"
}
