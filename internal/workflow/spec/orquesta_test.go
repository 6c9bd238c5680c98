package spec

import "testing"

// TestOrquestaInspection mirrors what Orquesta's WorkflowSpec.inspect() accepts and refuses
// (orquesta/tests/unit/specs/native/test_workflow_spec_validate*.py and test_task_spec.py),
// with our own workflows exercising the same constructs. Orquesta's categories map onto ours:
// syntax → key/type problems, semantics → graph problems, expressions → "bad expression",
// context → "referenced before assignment".
func TestOrquestaInspection(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []problem
	}{
		{name: "sequence with inline and list publish is valid", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    next:
			      - when: <% succeeded() %>
			        publish: x="one" y=2
			        do: b
			  b:
			    action: core.echo
			    input:
			      message: <% ctx().x %><% ctx().y %>
			    next:
			      - publish:
			          - z: zed
			          - w: <% ctx(z) %>
			        do: c
			  c:
			    action: core.noop
			`},
		{name: "empty next is valid", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    next: []
			`},
		{name: "do as a list and as a string", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    next:
			      - do:
			          - b
			  b:
			    next:
			      - do: c
			  c:
			    action: core.noop
			`},
		{name: "when must be a string", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    next:
			      - when: [oops]
			        do: b
			  b:
			    action: core.noop
			`, want: []problem{{6, "a", "tasks.a.next[0].when", "must be a string, not a list"}}},
		{name: "publish must be key=value text or a list of one-key mappings", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    next:
			      - publish:
			          - oops
			        do: b
			  b:
			    action: core.noop
			`, want: []problem{{7, "a", "tasks.a.next[0].publish[0]", "must be a mapping of exactly one name"}}},
		{name: "do must not be a mapping", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    next:
			      - do:
			          b: oops
			  b:
			    action: core.noop
			`, want: []problem{{7, "a", "tasks.a.next[0].do", "must be a task name"}}},
		{name: "tasks are required", src: `
			version: 1.0
			description: nothing to do
			`, want: []problem{{1, "", "tasks", "is required"}}},
		{name: "tasks must not be empty", src: `
			version: 1.0
			tasks: {}
			`, want: []problem{{2, "", "tasks", "at least one task"}}},
		{name: "every problem at once: context, syntax and expression", src: `
			version: 1.0
			vars:
			  - known: yes
			tasks:
			  a:
			    action: core.local cmd=<% ctx().unknown %>
			    next:
			      - when: <% succeeded() %>
			        do:
			          - b
			  b:
			    action: core.local
			    input:
			      - cmd: echo <% ctx().known %>
			    next:
			      - when: <% <% succeeded() %>
			        do: c
			  c:
			    action: core.noop
			`, want: []problem{
			{6, "a", "tasks.a.input", `variable "unknown" is referenced before assignment`},
			{14, "b", "tasks.b.input", "must be a non-empty mapping or a string of key=value pairs, not a list"},
			{16, "b", "tasks.b.next[0].when", "bad expression <% <% succeeded() %>"},
		}},
		{name: "undefined task in do", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    next:
			      - do: missing
			`, want: []problem{{6, "a", "tasks.a.next[0].do", `the task "missing" is not defined`}}},
		{name: "reserved task name", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    next:
			      - do: noop
			  noop:
			    action: core.noop
			`, want: []problem{{7, "noop", "tasks.noop", `the task name "noop" is reserved`}}},
		{name: "join below nested forks is unreachable", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    next:
			      - when: <% succeeded() %>
			        do: b, c, e
			  b:
			    action: core.noop
			    next:
			      - when: <% succeeded() %>
			        do: d
			  c:
			    action: core.noop
			    next:
			      - when: <% succeeded() %>
			        do: d
			  d:
			    action: core.noop
			    next:
			      - when: <% succeeded() %>
			        do: e
			  e:
			    join: all
			    action: core.noop
			`, want: []problem{{23, "e", "tasks.e", `the join task "e" is unreachable`}}},
		{name: "a loop needs a task leading into it", src: `
			version: 1.0
			input:
			  - count: 0
			tasks:
			  a:
			    action: core.noop
			    next:
			      - when: <% ctx().count < 2 %>
			        publish:
			          - count: <% ctx().count + 1 %>
			        do: a
			`, want: []problem{{5, "", "tasks", "unable to identify any task to start the workflow"}}},
		{name: "duplicate task", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    next:
			      - do: b
			  b:
			    action: core.noop
			  b:
			    action: core.noop
			`, want: []problem{{9, "", "tasks.b", `duplicate key "b"`}}},
		{name: "with items must be an expression or x in an expression", src: `
			version: 1.0
			tasks:
			  a:
			    with:
			      items: plain
			    action: core.noop
			    next:
			      - do: b
			  b:
			    with: also plain
			    action: core.noop
			`, want: []problem{
			{5, "a", "tasks.a.with.items", `"plain" is not "<expression>" or "x, y in <expression>"`},
			{10, "b", "tasks.b.with.items", `"also plain" is not`},
		}},
		{name: "with items spacing variants are valid", src: `
			version: 1.0
			input:
			  - xs
			  - ys
			tasks:
			  t1:
			    with: "  <% ctx(xs) %> "
			    action: core.noop
			  t2:
			    with: " x in <% ctx(xs) %> "
			    action: core.noop
			  t3:
			    with: "x  in  {{ ctx(xs) }}"
			    action: core.noop
			  t4:
			    with: "x,y in <% zip(ctx(xs), ctx(ys)) %>"
			    action: core.noop
			  t5:
			    with:
			      items: "x,  y in <% zip(ctx(xs), ctx(ys)) %>"
			      concurrency: <% len(ctx(xs)) %>
			    action: core.noop
			`},
		{name: "with items reads variables too", src: `
			version: 1.0
			tasks:
			  a:
			    with:
			      items: <% ctx(xs) %>
			      concurrency: <% ctx(size) %>
			    action: core.noop
			`, want: []problem{
			{4, "a", "tasks.a.with.items", `variable "xs" is referenced before assignment`},
			{4, "a", "tasks.a.with.concurrency", `variable "size" is referenced before assignment`},
		}},
		{name: "with items needs an action", src: `
			version: 1.0
			input: [xs]
			tasks:
			  a:
			    with: <% ctx(xs) %>
			`, want: []problem{{4, "a", "tasks.a", "the action property is required for a with-items task"}}},
		{name: "retry needs a count", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    retry:
			      delay: 1
			`, want: []problem{{6, "a", "tasks.a.retry.count", "is required"}}},
		{name: "retry fields have types", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    retry:
			      when: 1
			      count: [abc]
			      delay: true
			`, want: []problem{
			{6, "a", "tasks.a.retry.when", "must be a string, not an integer"},
			{7, "a", "tasks.a.retry.count", "must be a non-negative integer or an expression, not a list"},
			{8, "a", "tasks.a.retry.delay", `must be a non-negative integer or an expression, not "true"`},
		}},
		{name: "delay is a number or an expression", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    delay: true
			  b:
			    action: core.noop
			    delay: <% ctx().pause %>
			`, want: []problem{
			{5, "a", "tasks.a.delay", "must be a non-negative integer or an expression"},
			{8, "b", "tasks.b.delay", `variable "pause" is referenced before assignment`},
		}},
		{name: "unknown keys are refused", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    on-success: b
			`, want: []problem{{5, "a", "tasks.a.on-success", `unknown key "on-success"`}}},
		{name: "version must be 1.0", src: `
			version: 2.0
			tasks:
			  a:
			    action: core.noop
			`, want: []problem{{1, "", "version", "must be 1.0"}}},
		{name: "jinja and yaql in one string", src: `
			version: 1.0
			input: [x]
			tasks:
			  a:
			    action: core.echo
			    input:
			      message: <% ctx(x) %> {{ ctx(x) }}
			`, want: []problem{{6, "a", "tasks.a.input", "expression with multiple types"}}},
		{name: "unclosed jinja", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.echo
			    input:
			      message: "{{ 'a' ~ (1 + 2 }}"
			`, want: []problem{{5, "a", "tasks.a.input", `unclosed '('`}}},
		{name: "unquoted inline text is not an action", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.echo message=hello
			`, want: []problem{{4, "a", "tasks.a.action", `"core.echo message=hello" is not an action ref`}}},

		// Variables (test_workflow_spec_validate_vars.py).
		{name: "input default reads an unknown variable", src: `
			version: 1.0
			input:
			  - y: <% ctx().a %>
			tasks:
			  a:
			    action: core.noop
			`, want: []problem{{3, "", "input[0]", `variable "a" is referenced before assignment`}}},
		{name: "input reads earlier input", src: `
			version: 1.0
			input:
			  - x
			  - y: foobar
			  - z: <% ctx().x %> <% ctx().y %>
			tasks:
			  a:
			    action: core.noop
			`},
		{name: "vars read input and earlier vars, in YAQL and Jinja", src: `
			version: 1.0
			input:
			  - y
			vars:
			  - foo: "{{ ctx().a }}"
			  - fooa: <% ctx().x + ctx().y + ctx().z %>
			  - ok: "{{ ctx('y') ~ ctx(\"foo\") }}"
			tasks:
			  a:
			    action: core.noop
			`, want: []problem{
			{5, "", "vars[0]", `variable "a" is referenced`},
			{6, "", "vars[1]", `variable "x" is referenced`},
			{6, "", "vars[1]", `variable "z" is referenced`},
		}},
		{name: "a branch sees only its own publish", src: `
			version: 1.0
			vars:
			  - foobar: foobar
			tasks:
			  a:
			    action: core.echo
			    input:
			      message: <% ctx().foobar %>
			    next:
			      - when: <% succeeded() %>
			        publish: foo="bar"
			        do: b
			      - when: <% failed() %>
			        publish: bar="foo"
			        do: c
			  b:
			    action: core.echo
			    input:
			      message: <% ctx().foo + ctx().bar %>
			  c:
			    action: core.echo
			    input:
			      message: <% ctx().foo + ctx().bar %>
			`, want: []problem{
			{18, "b", "tasks.b.input", `variable "bar" is referenced`},
			{22, "c", "tasks.c.input", `variable "foo" is referenced`},
		}},
		{name: "a task reached by two paths must be valid on both", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    next:
			      - when: <% succeeded() %>
			        publish: foo="bar"
			        do: b
			  b:
			    action: core.noop
			    next:
			      - do: e
			  c:
			    action: core.noop
			    next:
			      - publish: bar="foo"
			        do: d
			  d:
			    action: core.noop
			    next:
			      - do: e
			  e:
			    action: core.echo
			    input:
			      message: <% ctx().foo %>
			`, want: []problem{{24, "e", "tasks.e.input", `variable "foo" is referenced`}}},
		{name: "a join sees the union of its inbound paths", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    next:
			      - publish: foo="bar"
			        do: b
			  b:
			    action: core.noop
			    next:
			      - do: e
			  c:
			    action: core.noop
			    next:
			      - publish: bar="foo"
			        do: d
			  d:
			    action: core.noop
			    next:
			      - do: e
			  e:
			    join: all
			    action: core.echo
			    input:
			      message: <% ctx().foo + ctx().bar %>
			`},
		{name: "publish reads what is assigned before it", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    next:
			      - publish: foo="bar" bar="foo"
			        do: b
			  b:
			    action: core.echo
			    input:
			      message: <% ctx().foo + ctx().bar %>
			    next:
			      - publish: foobar=<% ctx().fu + ctx().bar %>
			`, want: []problem{{13, "b", "tasks.b.next[0].publish[0]", `variable "fu" is referenced`}}},
		{name: "output reads input, vars, earlier output and publishes", src: `
			version: 1.0
			input:
			  - a
			output:
			  - b: <% ctx().b %>
			  - x: <% ctx().a %>
			  - y: <% ctx().x %>
			  - z: <% ctx().missing %>
			tasks:
			  t:
			    action: core.noop
			    next:
			      - when: <% failed() %>
			        publish: b="set on failure"
			        do: fail
			`, want: []problem{{8, "", "output[3]", `variable "missing" is referenced`}}},
		{name: "private variables cannot be read", src: `
			version: 1.0
			input:
			  - __secret
			tasks:
			  t:
			    action: core.echo message="{{ ctx('__secret') }}"
			`, want: []problem{{6, "t", "tasks.t.input", `variable "__secret" is prefixed with double underscores`}}},
		{name: "st2 and parent come from StackStorm's context", src: `
			version: 1.0
			output:
			  - url: <% ctx(st2).api_url %>
			  - parent: "{{ ctx('parent') }}"
			tasks:
			  t:
			    action: core.noop
			`},

		// Checks attune adds to Orquesta's.
		{name: "join with a single inbound", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    next:
			      - do: b
			  b:
			    join: all
			    action: core.noop
			`, want: []problem{{7, "b", "tasks.b.join", `only "a" leads to it`}}},
		{name: "join count above the inbound tasks", src: `
			version: 1.0
			tasks:
			  a:
			    action: core.noop
			    next:
			      - do: b, c
			  b:
			    next:
			      - do: d
			  c:
			    next:
			      - do: d
			  d:
			    join: 3
			    action: core.noop
			`, want: []problem{{13, "d", "tasks.d.join", "join 3 can never be met: only 2 tasks"}}},
		{name: "a loop without a condition never ends", src: `
			version: 1.0
			tasks:
			  start:
			    action: core.noop
			    next:
			      - do: ping
			  ping:
			    action: core.noop
			    next:
			      - do: pong
			  pong:
			    action: core.noop
			    next:
			      - do: ping
			`, want: []problem{{7, "ping", "tasks.ping", "the tasks ping, pong loop forever"}}},
		{name: "a loop nothing leads into is unreachable", src: `
			version: 1.0
			tasks:
			  start:
			    action: core.noop
			  ping:
			    action: core.noop
			    next:
			      - when: <% succeeded() %>
			        do: pong
			  pong:
			    action: core.noop
			    next:
			      - when: <% succeeded() %>
			        do: ping
			`, want: []problem{
			{5, "ping", "tasks.ping", `the task "ping" is unreachable`},
			{10, "pong", "tasks.pong", `the task "pong" is unreachable`},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkProblems(t, Orquesta, c.src, c.want) })
	}
}
