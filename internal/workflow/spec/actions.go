package spec

import "sort"

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

// CheckActions reports, as an *Error, every task whose literal action ref exists does not
// know (the installer passes a lookup over the registered actions and the pack being
// installed); nil when all exist.
func (wf *Workflow) CheckActions(exists func(ref string) bool) error {
	var probs []Problem
	for _, u := range wf.ActionRefs() {
		if !exists(u.Ref) {
			t := wf.Tasks[u.Task]
			probs = append(probs, Problem{File: u.File, Line: u.Line, Task: u.Task, Field: join(t.path, actionKey(wf.Language)),
				Message: "the action " + `"` + u.Ref + `"` + " does not exist"})
		}
	}
	if len(probs) == 0 {
		return nil
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	return &Error{Problems: probs}
}
