package spec

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAttuneValidation(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []problem
	}{
		{name: "the manifest's minimal workflow is valid", src: `
			label: Deploy
			tasks: [{name: a, action: demo.hello}]
			`},
		{name: "tasks are required and not empty", src: `
			version: "1"
			tasks: []
			`, want: []problem{{2, "", "tasks", "at least one task"}}},
		{name: "a task needs a name and an action", src: `
			version: "1"
			tasks:
			  - action: core.noop
			  - name: b
			`, want: []problem{
			{3, "", "tasks[0].name", "is required"},
			{4, "b", "tasks[1].action", "is required"},
		}},
		{name: "unknown task in do and unknown keys", src: `
			version: "1"
			tasks:
			  - name: a
			    action: core.noop
			    nxt: []
			    next:
			      - when: "{{ succeeded() }}"
			        do: [b, missing]
			  - name: b
			    action: core.noop
			`, want: []problem{
			{5, "a", "tasks[0].nxt", `unknown key "nxt"`},
			{8, "a", "tasks[0].next[0].do", `the task "missing" is not defined`},
		}},
		{name: "a task defined twice", src: `
			version: "1"
			tasks:
			  - name: a
			    action: core.noop
			  - name: a
			    action: core.noop
			`, want: []problem{{5, "a", "tasks[1]", `task "a" is defined twice`}}},
		{name: "bad with_items", src: `
			version: "1"
			tasks:
			  - name: a
			    action: core.noop
			    with_items: parameters.hosts
			    concurrency: 0
			  - name: b
			    action: core.noop
			    concurrency: 3
			  - name: c
			    action: core.noop
			    with_items: "{{ parameters.hosts }}"
			    iterate_cache: {owner_type: pack, owner_ref: x, namespace: y}
			  - name: d
			    action: core.noop
			    with_items: [1, 2, 3]
			    batch_size: 2
			`, want: []problem{
			{5, "a", "tasks[0].with_items", `must be a {{ }} expression that renders a list, or a list, not "parameters.hosts"`},
			{6, "a", "tasks[0].concurrency", "must be at least 1"},
			{9, "b", "tasks[1].concurrency", "only applies to a with_items task"},
			{13, "c", "tasks[2].iterate_cache", "cannot be used together with with_items"},
		}},
		{name: "bad expressions", src: `
			version: "1"
			vars:
			  greeting: "{{ 'hi' "
			tasks:
			  - name: a
			    action: core.echo
			    input:
			      message: "{% if parameters.loud %}HI{% endfor %}"
			    next:
			      - when: "{{ succeeded( }}"
			        publish:
			          - x: "{{ }}"
			`, want: []problem{
			{3, "", "vars[0]", `is not closed by "}}"`},
			{7, "a", "tasks[0].input", "unexpected {% endfor %}, expected {% endif %}"},
			{7, "a", "tasks[0].input", "missing {% endif %}"},
			{10, "a", "tasks[0].next[0].when", `unclosed '('`},
			{12, "a", "tasks[0].next[0].publish[0]", "empty expression"},
		}},
		{name: "task.<name> must name a task", src: `
			version: "1"
			output_map:
			  ok: "{{ task.a.result.stdout ~ tasks.a.status }}"
			  bad: "{{ task.nope.result }}"
			tasks:
			  - name: a
			    action: core.echo
			    input: {message: "{% if task.ghost.status == 'ok' %}x{% endif %}{{ workflow.task.x }}"}
			`, want: []problem{
			{4, "", "output[1]", `{{ task.nope.result }} reads task.nope, but the workflow has no task "nope"`},
			{8, "a", "tasks[0].input", `reads task.ghost`},
		}},
		{name: "YAQL delimiters are plain text to attune", src: `
			version: "1"
			tasks:
			  - name: a
			    action: core.echo
			    input: {message: "<% not yaql here %>"}
			`},
		{name: "retry fields", src: `
			version: "1"
			tasks:
			  - name: a
			    action: core.noop
			    retry: {delay: 5, backoff: sometimes}
			`, want: []problem{
			{5, "a", "tasks[0].retry.backoff", "must be constant, linear or exponential"},
			{5, "a", "tasks[0].retry.count", "is required"},
		}},
		{name: "timeout and delay are numbers", src: `
			version: "1"
			tasks:
			  - name: a
			    action: core.noop
			    timeout: soon
			    delay: -1
			`, want: []problem{
			{5, "a", "tasks[0].timeout", `not "soon"`},
			{6, "a", "tasks[0].delay", "not -1"},
		}},
		{name: "type parallel is not supported", src: `
			version: "1"
			tasks:
			  - name: a
			    type: parallel
			    tasks: []
			`, want: []problem{
			{4, "a", "tasks[0].type", "type parallel is not supported"},
			{5, "a", "tasks[0].tasks", `unknown key "tasks"`},
		}},
		{name: "join on one inbound, unreachable task, endless loop", src: `
			version: "1"
			tasks:
			  - name: a
			    action: core.noop
			    next: [{do: [b, d]}]
			  - name: b
			    action: core.noop
			    next: [{do: c}]
			  - name: c
			    action: core.noop
			    next: [{do: b}]
			  - name: island
			    action: core.noop
			    next: [{when: "{{ failed() }}", do: island}]
			  - name: d
			    action: core.noop
			    join: all
			`, want: []problem{
			{6, "b", "tasks[1]", "the tasks b, c loop forever"},
			{12, "island", "tasks[3]", `the task "island" is unreachable`},
			{15, "d", "tasks[4].join", `only "a" leads to it`},
		}},
		{name: "legacy transitions are ignored when next is present", src: `
			version: "1"
			tasks:
			  - name: a
			    action: core.noop
			    on_success: b
			    next: [{do: c}]
			  - name: b
			    action: core.noop
			  - name: c
			    action: core.noop
			`},
		{name: "cancellation policy", src: `
			version: "1"
			cancellation_policy: whenever
			tasks: [{name: a, action: core.noop}]
			`, want: []problem{{2, "", "cancellation_policy", "must be allow_finish or cancel_running"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkProblems(t, Attune, c.src, c.want) })
	}
}

func TestAttuneLegacyIgnoredWhenNext(t *testing.T) {
	wf, err := Parse("wf.yaml", []byte("version: '1'\ntasks:\n  - {name: a, action: x.y, on_success: b, next: [{do: c}]}\n  - {name: b, action: x.y}\n  - {name: c, action: x.y}\n"), Attune)
	require.NoError(t, err)
	// The legacy on_success does not count: b has no inbound and starts the workflow too.
	assert.Equal(t, []string{"a", "b"}, wf.Start)
	assert.Equal(t, []Target{{Kind: TargetTask, Name: "c"}}, wf.Tasks["a"].Transitions[0].Do)
	assert.Len(t, wf.Tasks["a"].Transitions, 1)
}

func TestActionChainValidation(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []problem
	}{
		{name: "undefined on-success, on-failure and default", src: `
			chain:
			  - name: a
			    ref: core.noop
			    on-success: b
			    on-failure: nowhere
			  - name: b
			    ref: core.noop
			    on-success: gone
			default: absent
			`, want: []problem{
			{5, "a", "chain[0].on-failure", `the task "nowhere" is not defined`},
			{8, "b", "chain[1].on-success", `the task "gone" is not defined`},
			{9, "", "default", `names the node "absent"`},
		}},
		{name: "name and ref are required; params or parameters", src: `
			chain:
			  - ref: core.noop
			  - name: b
			    params: {a: 1}
			    parameters: {a: 2}
			`, want: []problem{
			{2, "", "chain[0].name", "is required"},
			{3, "b", "chain[1].ref", "is required"},
			{5, "b", "chain[1].parameters", `either "params" or "parameters"`},
		}},
		{name: "a node defined twice", src: `
			chain:
			  - {name: a, ref: core.noop}
			  - {name: a, ref: core.noop}
			`, want: []problem{{3, "a", "chain[1].name", `node "a" is defined twice`}}},
		{name: "unknown keys, bad publish", src: `
			chain:
			  - name: a
			    ref: core.noop
			    on_success: b
			    publish: [x]
			`, want: []problem{
			{4, "a", "chain[0].on_success", `unknown key "on_success"`},
			{5, "a", "chain[0].publish", "must be a mapping of variable to value, not a list"},
		}},
		{name: "a chain looping whatever happens", src: `
			chain:
			  - name: a
			    ref: core.noop
			    on-success: b
			    on-failure: b
			  - name: b
			    ref: core.noop
			    on-success: a
			    on-failure: a
			default: a
			`, want: []problem{{2, "a", "chain[0]", "the tasks a, b loop forever"}}},
		{name: "a chain looping on success only is allowed", src: `
			chain:
			  - name: a
			    ref: core.noop
			    on-success: b
			  - name: b
			    ref: core.noop
			    on-success: a
			default: a
			`},
		{name: "an orphan node is unreachable", src: `
			chain:
			  - {name: a, ref: core.noop}
			  - {name: b, ref: core.noop, on-success: c}
			  - {name: c, ref: core.noop}
			default: a
			`, want: []problem{
			{3, "b", "chain[1]", `the task "b" is unreachable`},
			{4, "c", "chain[2]", `the task "c" is unreachable`},
		}},
		{name: "Jinja is checked, YAQL delimiters are text", src: `
			chain:
			  - name: a
			    ref: core.local
			    params: {cmd: "echo {{ x | default('y') "}
			    publish: {v: "<% not yaql %>"}
			`, want: []problem{{4, "a", "chain[0].input", `is not closed by "}}"`}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkProblems(t, ActionChain, c.src, c.want) })
	}
}

func TestParseDocumentProblems(t *testing.T) {
	cases := []struct {
		name string
		lang Language
		src  string
		want []problem
	}{
		{"YAML syntax error has its line", Orquesta, "version: 1.0\ntasks:\n  a:\n    action: [unclosed\n", []problem{{3, "", "", "YAML syntax"}}},
		{"not a mapping", Attune, "- a\n- b\n", []problem{{1, "", "", "a workflow file is a YAML mapping, not a list"}}},
		{"empty file", ActionChain, "", []problem{{0, "", "", "a workflow file is a YAML mapping, not nothing"}}},
		{"tasks must be a map in Orquesta", Orquesta, "version: 1.0\ntasks: [a]\n", []problem{{2, "", "tasks", "must be a mapping of task name to task"}}},
		{"chain must be a list", ActionChain, "chain: {a: 1}\n", []problem{{1, "", "chain", "must be a list of nodes"}}},
		{"alias bombs are bounded", Attune, bomb(), []problem{{3, "", "", "too large"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkProblems(t, c.lang, c.src, c.want) })
	}
	_, err := Parse("big.yaml", make([]byte, MaxFileBytes+1), Attune)
	assert.ErrorContains(t, err, "more than")
}

// bomb builds a billion-laughs document whose vars expand into 10^9 strings.
func bomb() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	return "version: '1'\nvars:\n  " + strings.ReplaceAll(strings.TrimSuffix(b.String(), "\n"), "\n", "\n  ") + "\ntasks: [{name: t, action: x.y}]\n"
}

func TestErrorString(t *testing.T) {
	e := &Error{Problems: []Problem{
		{File: "w.yaml", Line: 3, Task: "a", Field: "tasks.a.next[0].do", Message: `the task "b" is not defined`},
		{File: "w.yaml", Message: "bad"},
	}}
	assert.Equal(t, `invalid workflow: 2 problems: w.yaml:3: task a: tasks.a.next[0].do: the task "b" is not defined; w.yaml: bad`, e.Error())
}

func TestInlineParams(t *testing.T) {
	got := parseInlineParams(`cmd="echo hi" n=2 f=1.5 ok=True nil=null list=[1, 2] obj='{"k": 1}' e=<% ctx(x) %> j={{ y }} bare=word`)
	assert.Equal(t, []Assign{
		{Name: "cmd", Value: "echo hi"}, {Name: "n", Value: int64(2)}, {Name: "f", Value: 1.5}, {Name: "ok", Value: true},
		{Name: "nil", Value: nil}, {Name: "list", Value: []any{int64(1), int64(2)}}, {Name: "obj", Value: map[string]any{"k": int64(1)}},
		{Name: "e", Value: "<% ctx(x) %>"}, {Name: "j", Value: "{{ y }}"},
	}, got, "bare words are not inline parameters, as in Orquesta")
}

func TestLightJinja(t *testing.T) {
	for _, ok := range []string{
		"plain", "{{ x }}", "{{ x | default('}}') }}", "{% for i in xs %}{{ i }}{% else %}none{% endfor %}",
		"{% raw %}{{ not parsed {% if %}{% endraw %}", "{# comment #}", "{% set x = 1 %}{{ x }}", "{%- if a -%}b{%- endif -%}",
		"a { b } c", "{{ {'k': [1, (2)]} }}",
	} {
		assert.Empty(t, lightJinja(ok), ok)
	}
	for _, bad := range []string{
		"{{ x", "{{ }}", "{% if a %}", "{% endif %}", "{{ (x }}", "{{ x] }}", "{{ 'x }}", "{% else %}", "{% raw %}x", "{% %}",
	} {
		assert.NotEmpty(t, lightJinja(bad), bad)
	}
}

func TestJinjaValidatorHook(t *testing.T) {
	defer func(old func(string) []error) { JinjaValidator = old }(JinjaValidator)
	JinjaValidator = func(text string) []error {
		if strings.Contains(text, "nope") {
			return []error{errors.New("jinja: unknown filter nope")}
		}
		return nil
	}
	checkProblems(t, ActionChain, "chain:\n  - {name: a, ref: core.noop, params: {x: '{{ y | nope }}'}}\n",
		[]problem{{2, "a", "chain[0].input", "unknown filter nope"}})
}

func TestActionRefs(t *testing.T) {
	wf := parseFile(t, "testdata/chain/sequence.yaml", ActionChain)
	assert.Equal(t, []ActionUse{
		{Ref: "core.http", Task: "fetch", File: "sequence.yaml", Line: 6},
		{Ref: "core.local", Task: "report", File: "sequence.yaml", Line: 15},
		{Ref: "core.local", Task: "alert", File: "sequence.yaml", Line: 19},
	}, wf.ActionRefs())
	local := ActionInfo{Params: []string{"cmd", "cwd", "env", "sudo", "timeout"}, Required: []string{"cmd"}}
	err := wf.CheckActions(func(ref string) (ActionInfo, bool) { return local, ref == "core.local" })
	assert.EqualError(t, err, `invalid workflow: 1 problem: sequence.yaml:6: task fetch: chain[0].ref: the action "core.http" is not registered`)
	assert.NoError(t, wf.CheckActions(func(ref string) (ActionInfo, bool) {
		if ref == "core.http" {
			return ActionInfo{Params: []string{"url", "method"}, Required: []string{"url"}}, true
		}
		return local, true
	}))

	// StackStorm's inspect_task_contents: required and unexpected inputs.
	wf = parseFile(t, "testdata/orquesta/sequence.yaml", Orquesta)
	err = wf.CheckActions(func(ref string) (ActionInfo, bool) {
		if ref == "core.echo" {
			return ActionInfo{Params: []string{"message", "timeout"}, Required: []string{"message"}}, true
		}
		return ActionInfo{Params: []string{"x"}, Required: []string{"x"}}, ref == "core.noop"
	})
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, []Problem{
		{File: "sequence.yaml", Line: 29, Task: "third", Field: "tasks.third.input", Message: `action "core.noop" is missing required input "x"`},
	}, e.Problems)
	require.NoError(t, wf.CheckActions(func(ref string) (ActionInfo, bool) { return ActionInfo{AnyInput: true}, true }),
		"an action that takes any input")
	err = wf.CheckActions(func(ref string) (ActionInfo, bool) { return ActionInfo{Params: []string{"msg"}}, true })
	require.True(t, errors.As(err, &e))
	assert.Equal(t, []Problem{
		{File: "sequence.yaml", Line: 12, Task: "first", Field: "tasks.first.input.message", Message: `action "core.echo" has unexpected input "message"`},
		{File: "sequence.yaml", Line: 19, Task: "second", Field: "tasks.second.input.message", Message: `action "core.echo" has unexpected input "message"`},
	}, e.Problems)

	wf = parseFile(t, "testdata/orquesta/join.yaml", Orquesta)
	assert.Len(t, wf.ActionRefs(), 5, "two_done runs no action")

	checkProblems(t, Attune, "tasks: [{name: a, action: noop}]\n", []problem{{1, "a", "tasks[0].action", `"noop" is not an action ref: write pack.name`}})
	checkProblems(t, Attune, "tasks: [{name: a, action: '{{ parameters.act }}'}]\n", nil)
}
