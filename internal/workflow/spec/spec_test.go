package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// summary renders the graph one task a line, so a table can state a whole model:
//
//	name action [join] [items] [retry] [delay] [timeout] <- inbound
//	  when | publish names | targets
func summary(wf *Workflow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "start %s\n", strings.Join(wf.Start, ","))
	for _, name := range wf.Order {
		t := wf.Tasks[name]
		fmt.Fprintf(&b, "%s %s", t.Name, t.Action)
		if t.Join != nil {
			if t.Join.All {
				b.WriteString(" join=all")
			} else {
				fmt.Fprintf(&b, " join=%d", t.Join.Count)
			}
		}
		if it := t.Items; it != nil {
			fmt.Fprintf(&b, " items=%s%v%v", it.Expr, it.Literal, it.Vars)
			if it.Concurrency != nil {
				fmt.Fprintf(&b, "/%s", it.Concurrency)
			}
		}
		if r := t.Retry; r != nil {
			fmt.Fprintf(&b, " retry=%s×%s", r.When, r.Count)
			if r.Delay != nil {
				fmt.Fprintf(&b, "/%s", r.Delay)
			}
		}
		if t.Delay != nil {
			fmt.Fprintf(&b, " delay=%s", t.Delay)
		}
		if t.Timeout != nil {
			fmt.Fprintf(&b, " timeout=%s", t.Timeout)
		}
		if len(t.Inbound) > 0 {
			fmt.Fprintf(&b, " <- %s", strings.Join(t.Inbound, ","))
		}
		b.WriteString("\n")
		for _, tr := range t.Transitions {
			var pub, do []string
			for _, a := range tr.Publish {
				pub = append(pub, a.Name)
			}
			for _, d := range tr.Do {
				if d.Kind == TargetTask {
					do = append(do, d.Name)
				} else {
					do = append(do, string(d.Kind)+":"+d.Name)
				}
			}
			fmt.Fprintf(&b, "  %s | %s | %s\n", tr.When, strings.Join(pub, ","), strings.Join(do, ","))
		}
	}
	return b.String()
}

func parseFile(t *testing.T, path string, lang Language) *Workflow {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	wf, err := Parse(filepath.Base(path), data, lang)
	require.NoError(t, err)
	return wf
}

func TestParseFixtures(t *testing.T) {
	cases := []struct {
		file string
		lang Language
		want string
	}{
		{"orquesta/sequence.yaml", Orquesta, `start first
first core.echo
  <% succeeded() %> | said,count | second
second core.echo <- first
  {{ succeeded() }} | said,shout | third
third core.noop <- second
`},
		{"orquesta/branch.yaml", Orquesta, `start probe
probe core.local
  <% succeeded() %> |  | celebrate
  <% failed() %> |  | clean_up,report
celebrate core.echo <- probe
clean_up core.noop <- probe
  <% failed() %> |  | noop:noop
report core.echo <- probe
   |  | fail:fail
`},
		{"orquesta/join.yaml", Orquesta, `start fan
fan core.noop
  <% succeeded() %> |  | left,middle,right
left core.noop <- fan
  <% succeeded() %> |  | all_done,two_done
middle core.noop <- fan
  <% succeeded() %> |  | all_done,two_done
right core.noop <- fan
  <% succeeded() %> |  | all_done,two_done
all_done core.noop join=all <- left,middle,right
two_done  join=2 <- left,middle,right
`},
		{"orquesta/items.yaml", Orquesta, `start ping_each
ping_each core.local items=<% ctx(hosts) %>[][]
  <% succeeded() %> |  | pair_up
pair_up core.echo items=<% zip(ctx(hosts), ctx(ports)) %>[][host port]/2 <- ping_each
`},
		{"orquesta/retry_delay.yaml", Orquesta, `start flaky
flaky core.local retry=<% failed() %>×3 delay=2
  <% succeeded() %> |  | again
  <% failed() %> |  | retry:retry
again core.noop retry=<% result().status_code = 503 %>×<% ctx(attempts) + 2 %>/5 <- again_loop,flaky
  <% ctx(attempts) < 3 %> | attempts | again_loop
again_loop core.noop <- again
   |  | again
`},
		{"orquesta/error_handling.yaml", Orquesta, `start risky
risky core.local
  <% succeeded() %> |  | after
  <% failed() %> | message | continue:continue
after core.noop <- risky
  <% succeeded() %> | message | continue:continue
`},
		{"orquesta/split.yaml", Orquesta, `start begin
begin core.noop
  <% succeeded() %> |  | left,right
left core.noop <- begin
  <% succeeded() %> |  | merge
right core.noop <- begin
  <% succeeded() %> |  | merge
merge core.noop <- left,right
  <% succeeded() %> |  | finish
finish core.noop <- merge
`},
		{"attune/deploy.workflow.yaml", Attune, `start validate
validate demo.validate retry=×2/5 timeout=30
  {{ succeeded() }} | status | deploy_each
  {{ failed() }} |  | report_failure
deploy_each demo.deploy_region items={{ parameters.regions }}[][]/2 <- validate
  {{ succeeded() }} | status | continue:continue
report_failure core.echo <- validate
`},
		{"attune/legacy.workflow.yaml", Attune, `start greet
greet core.echo
  {{ succeeded() }} | greeted | continue:continue
  {{ succeeded() }} |  | wait_a_bit
  {{ failed() }} |  | complain
wait_a_bit core.sleep delay={{ parameters.pause }} <- greet
  {{ workflow.greeted == 'hello world' }} |  | done
complain core.echo <- greet
done core.noop <- wait_a_bit
`},
		{"chain/sequence.yaml", ActionChain, `start fetch
fetch core.http
  {{ succeeded() }} | status_code | report
  {{ failed() }} | status_code | alert
report core.local <- fetch
  {{ succeeded() }} |  | continue:continue
  {{ failed() }} |  | continue:continue
alert core.local <- fetch
  {{ succeeded() }} |  | dynamic:{{ next_step }}
  {{ failed() }} |  | continue:continue
`},
		{"chain/default.yaml", ActionChain, `start first
last core.noop <- first
  {{ succeeded() }} |  | continue:continue
  {{ failed() }} |  | continue:continue
first core.noop
  {{ succeeded() }} |  | last
  {{ failed() }} |  | continue:continue
`},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			wf := parseFile(t, filepath.Join("testdata", c.file), c.lang)
			assert.Equal(t, c.want, summary(wf))
		})
	}
}

func TestParseModelDetails(t *testing.T) {
	wf := parseFile(t, "testdata/orquesta/sequence.yaml", Orquesta)
	assert.Equal(t, "1.0", wf.Version)
	assert.Equal(t, []Param{{Name: "who", Line: 4}, {Name: "greeting", Default: "hello", HasDefault: true, Line: 5}}, wf.Input)
	assert.Equal(t, []Assign{{Name: "said", Value: nil, Line: 7}}, wf.Vars)
	assert.Equal(t, []Assign{{Name: "said", Value: "<% ctx(said) %>", Line: 9}}, wf.Output)
	first := wf.Tasks["first"]
	assert.Equal(t, 11, first.Line)
	assert.Equal(t, map[string]any{"message": "<% ctx(greeting) %>, <% ctx(who) %>"}, first.Input, "inline parameters become input")
	assert.Equal(t, []Assign{{Name: "said", Value: "<% result().stdout %>", Line: 15}, {Name: "count", Value: int64(1), Line: 15}},
		first.Transitions[0].Publish, "inline publish keeps order and JSON types")
	assert.Equal(t, 14, first.Transitions[0].Line)
	second := wf.Tasks["second"]
	assert.Equal(t, map[string]any{"message": "{{ ctx('said') }} again"}, second.Input)
	assert.Equal(t, Jinja, ExprLangOf(second.Transitions[0].When))
	assert.Equal(t, YAQL, ExprLangOf(first.Transitions[0].When))
	assert.Equal(t, NoExpr, ExprLangOf("core.noop"))
	assert.Equal(t, YAQL, wf.ExprLang("<% ctx(x) %>"))

	chain := &Workflow{Language: ActionChain}
	assert.Equal(t, NoExpr, chain.ExprLang("<% ctx(x) %>"), "YAQL delimiters are text outside Orquesta")
	assert.Equal(t, Jinja, chain.ExprLang("<% x %> {{ y }}"))
	assert.Equal(t, Jinja, chain.ExprLang("{% if x %}y{% endif %}"))

	wf = parseFile(t, "testdata/attune/deploy.workflow.yaml", Attune)
	assert.Equal(t, "1.0.0", wf.Version)
	assert.Equal(t, []Assign{{Name: "status", Value: "pending", Line: 2}}, wf.Vars)
	assert.Equal(t, []Assign{{Name: "status", Value: "{{ workflow.status }}", Line: 27}}, wf.Output)
	v := wf.Tasks["validate"]
	assert.Equal(t, &Retry{Count: Number{Value: 2}, Delay: &Number{Value: 5}, Backoff: "constant"}, v.Retry)
	assert.Equal(t, &Number{Value: 30}, v.Timeout)
	assert.Equal(t, &Items{Expr: "{{ parameters.regions }}", Concurrency: &Number{Value: 2}}, wf.Tasks["deploy_each"].Items)

	wf = parseFile(t, "testdata/attune/legacy.workflow.yaml", Attune)
	assert.Equal(t, []Param{{Name: "name", Default: "world", HasDefault: true, Line: 4}}, wf.Input)
	assert.Equal(t, map[string]any{"label": "Legacy transitions", "parameters": map[string]any{"name": map[string]any{"type": "string", "default": "world"}}}, wf.Extra)

	wf = parseFile(t, "testdata/chain/sequence.yaml", ActionChain)
	assert.Equal(t, []Assign{{Name: "base", Value: "http://{{ host }}", Line: 3}}, wf.Vars)
	assert.Equal(t, map[string]any{"url": "{{ base }}/status"}, wf.Tasks["fetch"].Input, "params")
	assert.Equal(t, map[string]any{"cmd": "echo {{ status_code }}"}, wf.Tasks["report"].Input, "parameters")
	assert.Equal(t, map[string]any{"description": "say what came back"}, wf.Tasks["report"].Extra)
	assert.Equal(t, 11, wf.Tasks["fetch"].Transitions[0].Line, "on-success line")
	assert.Equal(t, 12, wf.Tasks["fetch"].Transitions[1].Line, "on-failure line")
}

func TestLanguageForRunner(t *testing.T) {
	for runner, want := range map[string]Language{"workflow": Attune, "orquesta": Orquesta, "action-chain": ActionChain} {
		got, ok := LanguageForRunner(runner)
		assert.True(t, ok)
		assert.Equal(t, want, got)
	}
	_, ok := LanguageForRunner("python-script")
	assert.False(t, ok)
	_, err := Parse("x", []byte("tasks: {}"), "mistral")
	assert.ErrorContains(t, err, `unknown workflow language "mistral"`)
}

// problem is what a table expects of one Problem: line, task and field exactly, and a part of
// the message.
type problem struct {
	line  int
	task  string
	field string
	msg   string
}

func checkProblems(t *testing.T, lang Language, src string, want []problem) {
	t.Helper()
	src = dedent(src)
	wf, err := Parse("wf.yaml", []byte(src), lang)
	if len(want) == 0 {
		require.NoError(t, err)
		require.NotNil(t, wf)
		return
	}
	require.Error(t, err)
	assert.Nil(t, wf)
	var e *Error
	require.True(t, errors.As(err, &e), "error is %T", err)
	var got []string
	for _, p := range e.Problems {
		assert.Equal(t, "wf.yaml", p.File)
		got = append(got, fmt.Sprintf("%d %s %s: %s", p.Line, p.Task, p.Field, p.Message))
	}
	require.Len(t, e.Problems, len(want), "problems:\n%s", strings.Join(got, "\n"))
	for i, w := range want {
		p := e.Problems[i]
		assert.Equal(t, w.line, p.Line, "line of %s", got[i])
		assert.Equal(t, w.task, p.Task, "task of %s", got[i])
		assert.Equal(t, w.field, p.Field, "field of %s", got[i])
		assert.Contains(t, p.Message, w.msg, "message of %s", got[i])
	}
	assert.True(t, sort.SliceIsSorted(e.Problems, func(i, j int) bool { return e.Problems[i].Line < e.Problems[j].Line }))
}

// dedent drops the common indentation of a raw string literal, and its first newline.
func dedent(s string) string {
	s = strings.TrimPrefix(s, "\n")
	lines := strings.Split(s, "\n")
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " \t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	for i, l := range lines {
		if len(l) >= indent && indent > 0 {
			lines[i] = l[indent:]
		}
	}
	return strings.Join(lines, "\n")
}

// TestInspectReturnsWhatItRead: a workflow with problems still gives its tasks, so an install
// checks their actions too and reports everything at once; Parse gives nothing.
func TestInspectReturnsWhatItRead(t *testing.T) {
	src := []byte("version: 1.0\ntasks:\n  a:\n    action: core.echo\n    next:\n      - do: nowhere\n")
	wf, err := Inspect("w.yaml", src, Orquesta)
	var e *Error
	require.True(t, errors.As(err, &e), "%v", err)
	assert.Equal(t, []Problem{{File: "w.yaml", Line: 6, Task: "a", Field: "tasks.a.next[0].do", Message: `the task "nowhere" is not defined`}}, e.Problems)
	require.NotNil(t, wf)
	assert.Equal(t, []ActionUse{{Ref: "core.echo", Task: "a", File: "w.yaml", Line: 4}}, wf.ActionRefs())
	wf, err = Parse("w.yaml", src, Orquesta)
	assert.Nil(t, wf)
	assert.Equal(t, e, err)
	wf, err = Inspect("w.yaml", []byte("- not a mapping\n"), Orquesta)
	assert.Nil(t, wf)
	assert.Error(t, err)
}
