package spec

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

func (p *parser) addLine(line int, task, field, format string, args ...any) {
	p.probs = append(p.probs, Problem{File: p.file, Line: line, Task: task, Field: field, Message: fmt.Sprintf(format, args...)})
}

// graph links the tasks: it fills Inbound and Start and reports unknown targets, a workflow
// without a start task, unreachable tasks, joins that cannot join and cycles without a way out.
func (p *parser) graph(wf *Workflow) {
	inbound := map[string]map[string]bool{}
	dynamic := false
	for _, name := range wf.Order {
		t := wf.Tasks[name]
		for _, tr := range t.Transitions {
			for _, d := range tr.Do {
				switch d.Kind {
				case TargetTask:
					if _, ok := wf.Tasks[d.Name]; !ok {
						p.addLine(tr.targetLine(), name, tr.doPath, "the task %q is not defined", d.Name)
						continue
					}
					if inbound[d.Name] == nil {
						inbound[d.Name] = map[string]bool{}
					}
					inbound[d.Name][name] = true
				case TargetDynamic:
					dynamic = true
				}
			}
		}
	}
	for name, srcs := range inbound {
		t := wf.Tasks[name]
		for s := range srcs {
			t.Inbound = append(t.Inbound, s)
		}
		sort.Strings(t.Inbound)
	}
	if wf.Language != ActionChain {
		for _, name := range wf.Order {
			if len(wf.Tasks[name].Inbound) == 0 {
				wf.Start = append(wf.Start, name)
			}
		}
		if wf.Language == Orquesta {
			sort.Strings(wf.Start)
		}
		if len(wf.Start) == 0 && len(wf.Order) > 0 {
			p.addLine(wf.Tasks[wf.Order[0]].Line, "", "tasks", "unable to identify any task to start the workflow: every task has an inbound transition; if the workflow has a loop, add a task that leads into it")
		}
	}

	// Reachability. A dynamic target (action-chain "{{ next }}") may lead anywhere.
	reached := map[string]bool{}
	queue := append([]string(nil), wf.Start...)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		t, ok := wf.Tasks[name]
		if !ok || reached[name] {
			continue
		}
		reached[name] = true
		for _, tr := range t.Transitions {
			for _, d := range tr.Do {
				if d.Kind == TargetTask && !reached[d.Name] {
					queue = append(queue, d.Name)
				}
			}
		}
	}
	validStart := false
	for _, s := range wf.Start {
		validStart = validStart || wf.Tasks[s] != nil
	}
	if !dynamic && validStart {
		for _, name := range wf.Order {
			if !reached[name] {
				p.addLine(wf.Tasks[name].Line, name, wf.Tasks[name].path, "the task %q is unreachable: no transition from a start task (%s) leads to it", name, strings.Join(wf.Start, ", "))
			}
		}
	}

	for _, name := range wf.Order {
		t := wf.Tasks[name]
		if t.Join == nil {
			continue
		}
		n := len(t.Inbound)
		switch {
		case n < 2:
			p.addLine(t.Line, name, join(t.path, "join"), "a join waits for several inbound tasks, but %s", inboundText(t.Inbound))
		case !t.Join.All && t.Join.Count > n:
			p.addLine(t.Line, name, join(t.path, "join"), "join %d can never be met: only %d tasks lead to %q", t.Join.Count, n, name)
		}
	}
	p.cycles(wf)
	if wf.Language == Orquesta {
		p.joinLevels(wf)
	}
}

func inboundText(in []string) string {
	if len(in) == 0 {
		return "no task leads to it"
	}
	return fmt.Sprintf("only %q leads to it", in[0])
}

// certainEdges lists, per task, the tasks it always schedules whatever its outcome: targets of
// transitions without condition, and for action-chains targets of both on-success and
// on-failure (a chain node either succeeds or fails; cancellation stops the chain).
func certainEdges(wf *Workflow, t *Task) []string {
	var out []string
	succ, fail := map[string]bool{}, map[string]bool{}
	for _, tr := range t.Transitions {
		for _, d := range tr.Do {
			if d.Kind != TargetTask {
				continue
			}
			switch {
			case strings.TrimSpace(tr.When) == "":
				out = append(out, d.Name)
			case wf.Language == ActionChain && tr.When == chainSucceeded:
				succ[d.Name] = true
			case wf.Language == ActionChain && tr.When == chainFailed:
				fail[d.Name] = true
			}
		}
	}
	for n := range succ {
		if fail[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// cycles reports the loops that can never end: cycles made only of certain edges (Tarjan's
// strongly connected components over them). Loops with a condition somewhere are allowed, as in
// Orquesta: the condition is their way out.
func (p *parser) cycles(wf *Workflow) {
	edges := map[string][]string{}
	for _, name := range wf.Order {
		for _, n := range certainEdges(wf, wf.Tasks[name]) {
			if _, ok := wf.Tasks[n]; ok {
				edges[name] = append(edges[name], n)
			}
		}
	}
	idx, low := map[string]int{}, map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	counter := 0
	var strong func(v string)
	strong = func(v string) {
		idx[v], low[v] = counter, counter
		counter++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range edges[v] {
			if _, seen := idx[w]; !seen {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], idx[w])
			}
		}
		if low[v] != idx[v] {
			return
		}
		var comp []string
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp = append(comp, w)
			if w == v {
				break
			}
		}
		loop := len(comp) > 1
		if !loop {
			for _, w := range edges[v] {
				loop = loop || w == v
			}
		}
		if !loop {
			return
		}
		first := comp[0]
		pos := map[string]int{}
		for i, n := range wf.Order {
			pos[n] = i
		}
		sort.Slice(comp, func(i, j int) bool { return pos[comp[i]] < pos[comp[j]] })
		first = comp[0]
		t := wf.Tasks[first]
		p.addLine(t.Line, first, t.path, "the tasks %s loop forever: every transition in the cycle fires whatever the outcome; add a when condition that ends it", strings.Join(comp, ", "))
	}
	for _, name := range wf.Order {
		if _, seen := idx[name]; !seen {
			strong(name)
		}
	}
}

// orquestaNext lists (target, transition) pairs of a task sorted by target, as Orquesta's
// get_next_tasks, reserved commands included.
func orquestaNextTasks(t *Task) []string {
	var out []string
	if t == nil {
		return nil
	}
	for _, tr := range t.Transitions {
		for _, d := range tr.Do {
			if d.Kind != TargetContinue {
				out = append(out, d.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// maxJoinSteps bounds Orquesta's join-level analysis, whose queue grows with the paths of the
// graph.
const maxJoinSteps = 50_000

// joinLevels ports Orquesta's detect_unreachable_tasks: a join task is refused when the tasks
// leading to it sit below different nested forks (splits) of multi-referenced tasks, since the
// engine could not tell at which level to join.
func (p *parser) joinLevels(wf *Workflow) {
	hasJoin := false
	for _, t := range wf.Tasks {
		hasJoin = hasJoin || t.Join != nil
	}
	if !hasJoin {
		return
	}
	prevCount := map[string]int{}
	for _, name := range wf.Order {
		for _, n := range orquestaNextTasks(wf.Tasks[name]) {
			prevCount[n]++
		}
	}
	cycleMemo := map[string]bool{}
	inCycle := func(name string) bool {
		if v, ok := cycleMemo[name]; ok {
			return v
		}
		seen := map[string]bool{}
		q := orquestaNextTasks(wf.Tasks[name])
		found := false
		for len(q) > 0 && !found {
			n := q[0]
			q = q[1:]
			if n == name {
				found = true
				break
			}
			if seen[n] {
				continue
			}
			seen[n] = true
			q = append(q, orquestaNextTasks(wf.Tasks[n])...)
		}
		cycleMemo[name] = found
		return found
	}
	isSplit := func(name string) bool {
		t := wf.Tasks[name]
		return t != nil && t.Join == nil && prevCount[name] > 1
	}
	type meta struct {
		splits map[string]bool
		prev   map[string]bool
	}
	type entry struct {
		prev, name string
		splits     []string
	}
	staging := map[string]*meta{}
	var order []string
	track := map[string]map[string]bool{}
	var q []entry
	for _, s := range wf.Start {
		q = append(q, entry{name: s})
	}
	for steps := 0; len(q) > 0; steps++ {
		if steps > maxJoinSteps {
			return
		}
		e := q[0]
		q = q[1:]
		if wf.Tasks[e.name] == nil {
			continue
		}
		splits := append([]string(nil), e.splits...)
		if isSplit(e.name) && !inCycle(e.name) {
			splits = append(splits, e.name)
		}
		m := staging[e.name]
		if m == nil {
			m = &meta{splits: map[string]bool{}, prev: map[string]bool{}}
			staging[e.name] = m
			order = append(order, e.name)
		}
		for _, s := range splits {
			m.splits[s] = true
		}
		if e.prev != "" {
			m.prev[e.prev] = true
		}
		for _, next := range orquestaNextTasks(wf.Tasks[e.name]) {
			if staging[next] != nil && inCycle(next) {
				continue
			}
			id := e.name + "_" + next
			existing := track[id]
			if len(existing) > 0 {
				subset := true
				for _, s := range splits {
					subset = subset && existing[s]
				}
				if !subset {
					q = append(q, entry{e.name, next, append([]string(nil), splits...)})
					for _, s := range splits {
						existing[s] = true
					}
				}
				continue
			}
			q = append(q, entry{e.name, next, append([]string(nil), splits...)})
			set := map[string]bool{}
			for _, s := range splits {
				set[s] = true
			}
			track[id] = set
		}
	}
	sameSet := func(a, b map[string]bool) bool {
		if len(a) != len(b) {
			return false
		}
		for k := range a {
			if !b[k] {
				return false
			}
		}
		return true
	}
	for _, name := range order {
		t := wf.Tasks[name]
		if t.Join == nil {
			continue
		}
		for prev := range staging[name].prev {
			if !sameSet(staging[name].splits, staging[prev].splits) {
				p.addLine(t.Line, name, t.path, "the join task %q is unreachable: tasks lead to it from different levels of nested forks of multi-referenced tasks, so the engine cannot tell at which level to join", name)
				break
			}
		}
	}
}

// attuneTaskRef finds task.<name> and tasks.<name> in attune expressions.
var attuneTaskRef = regexp.MustCompile(`(?:^|[^\w.])tasks?\.([A-Za-z_]\w*)`)

// expressions checks the syntax of every expression in the workflow, and in attune files that
// task.<name> names a task.
func (p *parser) expressions(wf *Workflow) {
	check := func(v any, line int, task, field string) {
		walkStrings(v, func(s string) {
			for _, e := range validateText(wf.Language, s) {
				p.addLine(line, task, field, "bad expression %s: %s", truncate(strings.TrimSpace(e.text), 120), e.msg)
			}
			if wf.Language != Attune {
				return
			}
			for _, stmt := range append(jinjaExpr.FindAllString(s, -1), jinjaBlock.FindAllString(s, -1)...) {
				for _, m := range attuneTaskRef.FindAllStringSubmatch(stmt, -1) {
					if wf.Tasks[m[1]] == nil {
						p.addLine(line, task, field, "%s reads task.%s, but the workflow has no task %q", truncate(strings.TrimSpace(stmt), 120), m[1], m[1])
					}
				}
			}
		})
	}
	num := func(n *Number, line int, task, field string) {
		if n != nil && n.Expr != "" {
			check(n.Expr, line, task, field)
		}
	}
	for i, in := range wf.Input {
		if in.HasDefault {
			check(in.Default, in.Line, "", index("input", i))
		}
	}
	for i, a := range wf.Vars {
		check(a.Value, a.Line, "", index("vars", i))
	}
	for i, a := range wf.Output {
		check(a.Value, a.Line, "", index("output", i))
	}
	for _, name := range wf.Order {
		t := wf.Tasks[name]
		if ExprLangOf(t.Action) == NoExpr && t.Action != "" && !strings.ContainsAny(t.Action, " \t\n") && !strings.Contains(t.Action, ".") {
			p.addLine(t.lineOf(actionKey(wf.Language)), name, join(t.path, actionKey(wf.Language)), "%q is not an action ref: write pack.name", t.Action)
		}
		if ExprLangOf(t.Action) == NoExpr && strings.ContainsAny(t.Action, " \t\n") {
			msg := "an action ref is pack.name without spaces"
			if wf.Language == Orquesta {
				msg += ` (inline parameters are key=value with values quoted ("text"), numbers, booleans, null, [lists] or expressions)`
			}
			p.addLine(t.lineOf(actionKey(wf.Language)), name, join(t.path, actionKey(wf.Language)), "%q is not an action ref: %s", t.Action, msg)
		}
		inputKey, itemsKey, concKey := "input", "with_items", "concurrency"
		switch wf.Language {
		case Orquesta:
			itemsKey, concKey = "with", "with"
		case ActionChain:
			inputKey = "params"
			if t.lines["parameters"] > 0 {
				inputKey = "parameters"
			}
		}
		check(t.Action, t.lineOf("action"), name, join(t.path, "action"))
		if wf.Language == Orquesta && t.lines["input"] == 0 {
			inputKey = "action" // inline parameters
		}
		check(t.Input, t.lineOf(inputKey), name, join(t.path, "input"))
		check(t.Guard, t.lineOf("when"), name, join(t.path, "when"))
		num(t.Delay, t.lineOf("delay"), name, join(t.path, "delay"))
		num(t.Timeout, t.lineOf("timeout"), name, join(t.path, "timeout"))
		if t.Items != nil {
			check(t.Items.Expr, t.lineOf(itemsKey), name, join(t.path, "items"))
			check(t.Items.Literal, t.lineOf(itemsKey), name, join(t.path, "items"))
			num(t.Items.Concurrency, t.lineOf(concKey), name, join(t.path, "concurrency"))
			num(t.Items.BatchSize, t.lineOf("batch_size"), name, join(t.path, "batch_size"))
		}
		if t.Retry != nil {
			rl := t.lineOf("retry")
			check(t.Retry.When, rl, name, join(t.path, "retry.when"))
			num(&t.Retry.Count, rl, name, join(t.path, "retry.count"))
			num(t.Retry.Delay, rl, name, join(t.path, "retry.delay"))
			num(t.Retry.MaxDelay, rl, name, join(t.path, "retry.max_delay"))
		}
		for i, tr := range t.Transitions {
			if wf.Language == ActionChain && i > 0 {
				break // both transitions share the node's publish
			}
			check(tr.When, tr.Line, name, join(tr.path, "when"))
			for j, a := range tr.Publish {
				check(a.Value, max(a.Line, tr.Line), name, index(join(tr.path, "publish"), j))
			}
			for _, d := range tr.Do {
				if d.Kind == TargetDynamic {
					check(d.Name, tr.targetLine(), name, tr.doPath)
				}
			}
		}
	}
}

// OrquestaAppContext names the variables StackStorm's Orquesta runner gives every workflow
// besides its input (ctx(st2).action_execution_id, ctx(parent) in subworkflows); the engine must
// provide them.
var OrquestaAppContext = []string{"st2", "parent"}

// context ports Orquesta's inspect_context: every ctx() variable an expression reads must be
// assigned before, by input, vars or the publish of a transition on every path to the task
// (a join task sees the union of its inbound paths). Output sees everything published anywhere.
func (p *parser) context(wf *Workflow) {
	checkVars := func(v any, ctx map[string]bool, line int, task, field string) {
		walkStrings(v, func(s string) {
			for _, name := range ctxVars(s) {
				if strings.HasPrefix(name, "__") {
					p.addLine(line, task, field, "variable %q is prefixed with double underscores: it is private and cannot be referenced (in %s)", name, truncate(s, 120))
				}
				if !ctx[name] {
					p.addLine(line, task, field, "variable %q is referenced before assignment (in %s)", name, truncate(s, 120))
				}
			}
		})
	}
	rolling := map[string]bool{}
	for _, name := range OrquestaAppContext {
		rolling[name] = true
	}
	for i, in := range wf.Input {
		if in.HasDefault {
			checkVars(in.Default, rolling, in.Line, "", index("input", i))
		}
		rolling[in.Name] = true
	}
	for i, a := range wf.Vars {
		checkVars(a.Value, rolling, a.Line, "", index("vars", i))
		rolling[a.Name] = true
	}

	copySet := func(m map[string]bool) map[string]bool {
		out := make(map[string]bool, len(m))
		for k := range m {
			out[k] = true
		}
		return out
	}
	sameSet := func(a, b map[string]bool) bool {
		if len(a) != len(b) {
			return false
		}
		for k := range a {
			if !b[k] {
				return false
			}
		}
		return true
	}
	type entry struct {
		name string
		ctx  map[string]bool
	}
	joinCtx := map[string]map[string]bool{}
	taskCtxMap := map[string]map[string]bool{}
	traversed := map[string]bool{}
	var q []entry
	for _, s := range wf.Start {
		q = append(q, entry{s, copySet(rolling)})
	}
	all := copySet(rolling)
	for steps := 0; len(q) > 0 && steps < maxJoinSteps; steps++ {
		e := q[0]
		q = q[1:]
		traversed[e.name] = true
		ctx := e.ctx
		if len(ctx) == 0 {
			ctx = copySet(joinCtx[e.name])
		}
		t := wf.Tasks[e.name]
		if t == nil {
			// An engine command (continue, fail, noop, retry): Orquesta walks it as an empty
			// task, so what a transition publishes before it reaches the output's context.
			for k := range ctx {
				all[k] = true
			}
			continue
		}
		num := func(n *Number, key, field string) {
			if n != nil {
				checkVars(n.Expr, ctx, t.lineOf(key), t.Name, join(t.path, field))
			}
		}
		num(t.Delay, "delay", "delay")
		if t.Items != nil {
			checkVars(t.Items.Expr, ctx, t.lineOf("with"), t.Name, join(t.path, "with.items"))
			num(t.Items.Concurrency, "with", "with.concurrency")
		}
		checkVars(t.Action, ctx, t.lineOf("action"), t.Name, join(t.path, "action"))
		inputKey := "input"
		if t.lines["input"] == 0 {
			inputKey = "action"
		}
		checkVars(t.Input, ctx, t.lineOf(inputKey), t.Name, join(t.path, "input"))
		for k := range ctx {
			all[k] = true
		}
		for _, tr := range t.Transitions {
			branch := copySet(ctx)
			checkVars(tr.When, branch, tr.Line, t.Name, join(tr.path, "when"))
			for j, a := range tr.Publish {
				checkVars(a.Value, branch, max(a.Line, tr.Line), t.Name, index(join(tr.path, "publish"), j))
				branch[a.Name] = true
			}
			for _, d := range tr.Do {
				next := wf.Tasks[d.Name]
				if traversed[d.Name] || (d.Kind == TargetTask && next == nil) || d.Kind == TargetDynamic {
					continue
				}
				if next == nil || next.Join == nil {
					if prev, ok := taskCtxMap[d.Name]; !ok || !sameSet(prev, branch) {
						q = append(q, entry{d.Name, copySet(branch)})
						taskCtxMap[d.Name] = copySet(branch)
					}
					continue
				}
				if joinCtx[d.Name] == nil {
					joinCtx[d.Name] = map[string]bool{}
				}
				for k := range branch {
					joinCtx[d.Name][k] = true
				}
				q = append(q, entry{d.Name, nil})
			}
		}
	}
	for i, a := range wf.Output {
		checkVars(a.Value, all, a.Line, "", index("output", i))
		all[a.Name] = true
	}
}
