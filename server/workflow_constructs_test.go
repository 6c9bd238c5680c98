package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
)

// wfDeadline bounds one workflow of these tests: each is a few cheap
// actions, seconds at most.
const wfDeadline = 60 * time.Second

// wfPacks are the workflow fixture packs under testdata/workflows: attune's
// own workflow files, Orquesta workflows with action-chains, and Orquesta's
// conformance workflows.
var wfPacks = []string{"wf_attune", "wf_st2", "wf_conformance"}

// wfServer is a server with the workflow fixture packs installed, and a
// directory its actions may read, where tests put their gates and markers.
type wfServer struct {
	*server
	gql *gqltest.Client
	dir string
}

// startWorkflowServer serves on a fresh database of backend and installs
// the workflow fixture packs through the API.
func startWorkflowServer(t *testing.T, backend string) *wfServer {
	t.Helper()
	dir := t.TempDir()
	searchable(t, dir)
	s := startServer(t, []string{"ATTUNE_WORKER_CONCURRENCY=16", "ATTUNE_WORKER_ISOLATION_READ_PATHS=" + dir},
		"-database-url", dbtest.URL(t, backend))
	w := &wfServer{server: s, gql: client(s, s.token), dir: dir}
	installWorkflowPacks(t, s)
	return w
}

// installWorkflowPacks installs the workflow fixture packs through s's API.
func installWorkflowPacks(t *testing.T, s *server) {
	t.Helper()
	for _, ref := range wfPacks {
		src, err := filepath.Abs(filepath.Join("testdata/workflows", ref))
		require.NoError(t, err)
		var got struct {
			InstallPack struct{ Pack struct{ Ref string } }
		}
		client(s, s.token).Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`,
			map[string]any{"s": src}, &got)
		require.Equal(t, ref, got.InstallPack.Pack.Ref)
	}
}

// wfTask is one entry of Execution.workflow.tasks.
type wfTask struct {
	Name      string
	Status    string
	ItemIndex *int
	Execution *struct {
		ID         string
		Status     string
		Result     json.RawMessage
		StartedAt  *time.Time
		FinishedAt *time.Time
	}
}

// wfChild is one child execution of a workflow execution.
type wfChild struct {
	ID         string
	TaskName   string
	TaskItem   *int
	Status     string
	Result     json.RawMessage
	Stdout     string
	Parameters json.RawMessage
	StartedAt  *time.Time
	FinishedAt *time.Time
}

// wfRun is a workflow execution as these tests read it.
type wfRun struct {
	ID       string
	Status   string
	Result   json.RawMessage
	Error    string
	Workflow *wfState
	Children struct {
		Edges []struct{ Node wfChild }
	}
}

// wfState is Execution.workflow.
type wfState struct {
	Status   string
	Language string
	Tasks    []wfTask
	Context  json.RawMessage
	Output   json.RawMessage
	Errors   json.RawMessage
}

const wfRunFields = `id status result error
	workflow { status language tasks { name status itemIndex execution { id status result startedAt finishedAt } }
		context output errors }
	children(first: 100) { edges { node { id taskName taskItem status result stdout parameters startedAt finishedAt } } }`

// read returns the execution id as the API shows it now.
func (w *wfServer) read(t *testing.T, id string) wfRun {
	t.Helper()
	var out struct{ Node wfRun }
	w.gql.Must(t, `query($id: ID!) { node(id: $id) { ... on Execution { `+wfRunFields+` } } }`,
		map[string]any{"id": id}, &out)
	require.Equal(t, id, out.Node.ID, "execution %s", id)
	return out.Node
}

// start runs the workflow action ref with params and returns its execution
// id.
func (w *wfServer) start(t *testing.T, ref string, params map[string]any) string {
	t.Helper()
	return execute(t, w.server, ref, params)
}

// run runs the workflow action ref with params to its end and returns it.
func (w *wfServer) run(t *testing.T, ref string, params map[string]any) wfRun {
	t.Helper()
	id := w.start(t, ref, params)
	w.waitStatus(t, id, "SUCCEEDED", "FAILED", "CANCELED", "TIMEOUT", "ABANDONED")
	return w.read(t, id)
}

// waitStatus follows executionUpdated(id) until the execution is in one
// of statuses and returns that status; it fails the test when the stream
// ends or wfDeadline passes first.
func (w *wfServer) waitStatus(t *testing.T, id string, statuses ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wfDeadline)
	defer cancel()
	var seen []string
	for data := range subscribe(t, ctx, w.server, `subscription($id: ID!) { executionUpdated(id: $id) { status } }`,
		map[string]any{"id": id}) {
		var d struct{ ExecutionUpdated struct{ Status string } }
		require.NoError(t, json.Unmarshal(data, &d), string(data))
		seen = append(seen, d.ExecutionUpdated.Status)
		if slices.Contains(statuses, d.ExecutionUpdated.Status) {
			return d.ExecutionUpdated.Status
		}
	}
	t.Fatalf("execution %s never reached %v (context: %v); statuses seen: %v; now: %+v",
		id, statuses, ctx.Err(), seen, w.read(t, id))
	return ""
}

// waitTask polls the workflow until its task name has an entry in status.
func (w *wfServer) waitTask(t *testing.T, id, name, status string) wfTask {
	t.Helper()
	var found wfTask
	eventually(t, wfDeadline, "task "+name+" of execution "+id+" to be "+status, func() bool {
		run := w.read(t, id)
		if slices.Contains([]string{"SUCCEEDED", "FAILED", "CANCELED", "TIMEOUT", "ABANDONED"}, run.Status) {
			t.Fatalf("execution %s ended %s before task %s was %s: %+v", id, run.Status, name, status, run)
		}
		if run.Workflow == nil {
			return false
		}
		for _, task := range run.wf(t).Tasks {
			if task.Name == name && task.Status == status {
				found = task
				return true
			}
		}
		return false
	})
	return found
}

// gate makes a fifo in the server's readable directory: a task reading
// it blocks until release opens it.
func (w *wfServer) gate(t *testing.T) string {
	t.Helper()
	path := filepath.Join(w.dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".gate")
	require.NoError(t, syscall.Mkfifo(path, 0o600))
	require.NoError(t, os.Chmod(path, 0o644))
	return path
}

// release writes a line into the gate once its reader has it open (a
// non-blocking open fails with ENXIO until then).
func release(t *testing.T, gate string) {
	t.Helper()
	eventually(t, wfDeadline, "a reader of "+gate, func() bool {
		f, err := os.OpenFile(gate, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if errors.Is(err, syscall.ENXIO) {
			return false
		}
		require.NoError(t, err)
		defer f.Close()
		_, err = f.WriteString("released\n")
		require.NoError(t, err)
		return true
	})
}

// wf is Execution.workflow, which must be there.
func (r wfRun) wf(t *testing.T) *wfState {
	t.Helper()
	require.NotNil(t, r.Workflow, "execution %s has no workflow: %+v", r.ID, r)
	return r.Workflow
}

// taskNames lists the names of the workflow's task runs, in start order.
func (r wfRun) taskNames() []string {
	var names []string
	if r.Workflow != nil {
		for _, t := range r.Workflow.Tasks {
			names = append(names, t.Name)
		}
	}
	return names
}

// children returns the child executions of task name, by item index
// (then by start).
func (r wfRun) children(name string) []wfChild {
	var out []wfChild
	for _, e := range r.Children.Edges {
		if e.Node.TaskName == name {
			out = append(out, e.Node)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.TaskItem != nil && b.TaskItem != nil && *a.TaskItem != *b.TaskItem {
			return *a.TaskItem < *b.TaskItem
		}
		return a.StartedAt != nil && b.StartedAt != nil && a.StartedAt.Before(*b.StartedAt)
	})
	return out
}

// output is the workflow's output: Execution.workflow.output.
func (r wfRun) output(t *testing.T) map[string]any {
	t.Helper()
	require.NotNil(t, r.Workflow, "execution %s has no workflow", r.ID)
	var out map[string]any
	if len(r.Workflow.Output) > 0 && string(r.Workflow.Output) != "null" {
		require.NoError(t, json.Unmarshal(r.Workflow.Output, &out), string(r.Workflow.Output))
	}
	return out
}

// errors is Execution.workflow.errors.
func (r wfRun) errors(t *testing.T) []map[string]any {
	t.Helper()
	require.NotNil(t, r.Workflow, "execution %s has no workflow", r.ID)
	var errs []map[string]any
	require.NoError(t, json.Unmarshal(r.Workflow.Errors, &errs), string(r.Workflow.Errors))
	return errs
}

// stdoutOf is a child result's stdout, as StackStorm's local runner shapes
// it ({stdout, stderr, return_code, …}).
func stdoutOf(t *testing.T, c wfChild) string {
	t.Helper()
	var r struct{ Stdout string }
	require.NoError(t, json.Unmarshal(c.Result, &r), "result of %s: %s", c.TaskName, c.Result)
	return r.Stdout
}

// countOf counts v in xs.
func countOf(xs []string, v string) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

// requireMaxOverlap requires that no more than n of runs ran at once,
// judged by their start and finish times.
func requireMaxOverlap(t *testing.T, runs []wfChild, n int) {
	t.Helper()
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, r := range runs {
		require.NotNil(t, r.StartedAt, "%+v", r)
		require.NotNil(t, r.FinishedAt, "%+v", r)
		edges = append(edges, edge{*r.StartedAt, 1}, edge{*r.FinishedAt, -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at.Equal(edges[j].at) {
			return edges[i].delta < edges[j].delta // an end before a start at the same instant
		}
		return edges[i].at.Before(edges[j].at)
	})
	running, most := 0, 0
	for _, e := range edges {
		running += e.delta
		most = max(most, running)
	}
	require.LessOrEqual(t, most, n, "runs at once")
}

// wfLang is one workflow language of TestWorkflowConstructs: the prefix of
// its fixtures' refs.
type wfLang struct {
	name   string
	prefix string // action ref prefix of the fixture of each construct
}

var (
	attuneLang   = wfLang{"attune", "wf_attune."}
	orquestaLang = wfLang{"orquesta", "wf_st2."}
)

// TestWorkflowConstructs runs each construct of the workflow languages
// through the real server, on both backends: attune's workflow files and
// Orquesta workflows from the same cases, action-chains where the
// language has the construct. Each subtest runs its own executions.
func TestWorkflowConstructs(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		w := startWorkflowServer(t, backend)
		for _, lang := range []wfLang{attuneLang, orquestaLang} {
			t.Run(lang.name, func(t *testing.T) {
				t.Parallel()
				testConstructs(t, w, lang)
			})
		}
		t.Run("action-chain", func(t *testing.T) {
			t.Parallel()
			testChains(t, w)
		})
	})
}

func testConstructs(t *testing.T, w *wfServer, lang wfLang) {
	ref := func(name string) string { return lang.prefix + name }

	t.Run("SequenceAndPublish", func(t *testing.T) {
		t.Parallel()
		run := w.run(t, ref("sequence"), map[string]any{"name": "ada"})
		require.Equal(t, "SUCCEEDED", run.Status, "%+v", run)
		require.NotNil(t, run.Workflow)
		require.Equal(t, "SUCCEEDED", run.wf(t).Status)
		require.Equal(t, []string{"greet", "shout", "done"}, run.taskNames())
		require.Equal(t, map[string]any{"greeting": "hello ada", "loud": "HELLO ADA"}, run.output(t))
		for _, task := range run.wf(t).Tasks {
			require.Equal(t, "SUCCEEDED", task.Status, "%+v", task)
			require.NotNil(t, task.Execution, "%+v", task)
			require.Nil(t, task.ItemIndex)
		}
		// Children are executions of their own, with their task's name and
		// the parameters the workflow rendered.
		greet := run.children("greet")
		require.Len(t, greet, 1)
		require.Equal(t, "hello ada\n", greet[0].Stdout)
		require.JSONEq(t, `"hello ada"`, string(jsonField(t, greet[0].Parameters, "message")))
		require.Equal(t, run.wf(t).Tasks[0].Execution.ID, greet[0].ID)
		if lang == orquestaLang {
			// StackStorm's shape of an Orquesta result.
			require.JSONEq(t, `{"output": {"greeting": "hello ada", "loud": "HELLO ADA"}}`, string(run.Result))
		}
		var parent struct {
			Node struct {
				TaskName string
				Parent   struct{ ID string }
			}
		}
		w.gql.Must(t, `query($id: ID!) { node(id: $id) { ... on Execution { taskName parent { id } } } }`,
			map[string]any{"id": greet[0].ID}, &parent)
		require.Equal(t, "greet", parent.Node.TaskName)
		require.Equal(t, run.ID, parent.Node.Parent.ID)
	})

	t.Run("BranchOnSuccess", func(t *testing.T) {
		t.Parallel()
		run := w.run(t, ref("branch"), map[string]any{"cmd": "true"})
		require.Equal(t, "SUCCEEDED", run.Status, "%+v", run)
		require.Equal(t, []string{"check", "on_ok"}, run.taskNames())
	})

	t.Run("BranchOnFailure", func(t *testing.T) {
		t.Parallel()
		run := w.run(t, ref("branch"), map[string]any{"cmd": "exit 3"})
		// The failure took a transition: handled, the workflow succeeds.
		require.Equal(t, "SUCCEEDED", run.Status, "%+v", run)
		require.Equal(t, []string{"check", "on_err"}, run.taskNames())
		require.Equal(t, "FAILED", run.wf(t).Tasks[0].Status)
		errs := run.children("on_err")
		require.Len(t, errs, 1)
		require.Equal(t, "failed with 3\n", errs[0].Stdout, "published from the failed task's result")
		require.Equal(t, "failed with 3", stdoutOf(t, errs[0]), "StackStorm's result shape")
	})

	t.Run("WithItemsConcurrency", func(t *testing.T) {
		t.Parallel()
		xs := []any{"a", "b", "c", "d", "e"}
		run := w.run(t, ref("items"), map[string]any{"xs": xs})
		require.Equal(t, "SUCCEEDED", run.Status, "%+v", run)
		var items []int
		for _, task := range run.wf(t).Tasks {
			if task.Name == "each" {
				require.NotNil(t, task.ItemIndex, "%+v", task)
				items = append(items, *task.ItemIndex)
			}
		}
		sort.Ints(items)
		require.Equal(t, []int{0, 1, 2, 3, 4}, items, "one task entry per item")
		require.Equal(t, "after", run.taskNames()[len(run.taskNames())-1], "after runs once all items ended: %+v", run)
		each := run.children("each")
		require.Len(t, each, 5)
		for i, c := range each {
			require.NotNil(t, c.TaskItem)
			require.Equal(t, i, *c.TaskItem)
			want := xs[i].(string) + "\n"
			if lang == attuneLang {
				want = xs[i].(string) + "-" + string(rune('0'+i)) + "\n" // item and index
			}
			require.Equal(t, want, c.Stdout)
		}
		requireMaxOverlap(t, each, 2)
		if lang == orquestaLang {
			// result() of a with-items task is the list of item results, in
			// item order.
			require.Equal(t, map[string]any{"outs": []any{"a", "b", "c", "d", "e"}}, run.output(t))
		}
	})

	t.Run("JoinAllAndCount", func(t *testing.T) {
		t.Parallel()
		run := w.run(t, ref("join"), nil)
		require.Equal(t, "SUCCEEDED", run.Status, "%+v", run)
		names := run.taskNames()
		require.ElementsMatch(t, []string{"start", "a", "b", "c", "all_three", "two_of_three"}, names,
			"each join runs once")
		require.Equal(t, "start", names[0])
		all := run.children("all_three")
		require.Len(t, all, 1)
		for _, branch := range []string{"a", "b", "c"} {
			c := run.children(branch)
			require.Len(t, c, 1)
			require.False(t, all[0].StartedAt.Before(*c[0].FinishedAt), "join all waits for %s", branch)
		}
		// join 2: after two of its three inbound tasks.
		two := run.children("two_of_three")
		require.Len(t, two, 1)
		var before int
		for _, branch := range []string{"a", "b", "c"} {
			if c := run.children(branch)[0]; !two[0].StartedAt.Before(*c.FinishedAt) {
				before++
			}
		}
		require.GreaterOrEqual(t, before, 2)
	})

	t.Run("RetryWhenCountDelay", func(t *testing.T) {
		t.Parallel()
		run := w.run(t, ref("retry"), nil)
		require.Equal(t, "SUCCEEDED", run.Status, "failures handled by transitions: %+v", run)
		flaky := run.children("flaky")
		require.Len(t, flaky, 3, "one run and count: 2 retries")
		for i := 1; i < len(flaky); i++ {
			require.Equal(t, "FAILED", flaky[i].Status)
			gap := flaky[i].StartedAt.Sub(*flaky[i-1].FinishedAt)
			require.GreaterOrEqual(t, gap, 900*time.Millisecond, "retry delay: 1 s (start %d)", i)
		}
		require.Len(t, run.children("no_retry"), 1, "retry.when false: no retry")
		require.Len(t, run.children("after"), 1, "the failure transition after the last retry")
	})

	t.Run("Delay", func(t *testing.T) {
		t.Parallel()
		run := w.run(t, ref("delay"), nil)
		require.Equal(t, "SUCCEEDED", run.Status, "%+v", run)
		require.Equal(t, []string{"first", "later"}, run.taskNames())
		first, later := run.children("first"), run.children("later")
		require.Len(t, first, 1)
		require.Len(t, later, 1)
		require.GreaterOrEqual(t, later[0].StartedAt.Sub(*first[0].FinishedAt), 900*time.Millisecond)
	})

	t.Run("NestedWorkflow", func(t *testing.T) {
		t.Parallel()
		run := w.run(t, ref("nested"), map[string]any{"name": "bob"})
		require.Equal(t, "SUCCEEDED", run.Status, "%+v", run)
		require.Equal(t, []string{"sub", "after"}, run.taskNames())
		sub := run.children("sub")
		require.Len(t, sub, 1)
		inner := w.read(t, sub[0].ID)
		require.NotNil(t, inner.Workflow, "the sub-workflow is a workflow execution")
		require.Equal(t, []string{"greet", "shout", "done"}, inner.taskNames())
		require.Equal(t, map[string]any{"greeting": "hello bob", "loud": "HELLO BOB"}, inner.output(t))
		got, err := json.Marshal(run.output(t)["inner"])
		require.NoError(t, err)
		require.Contains(t, string(got), `"greeting":"hello bob"`, "the sub-workflow's result, published")
		if lang == orquestaLang {
			require.JSONEq(t, `{"greeting": "hello bob", "loud": "HELLO BOB"}`, string(got))
		}
	})

	t.Run("NoopTarget", func(t *testing.T) {
		t.Parallel()
		run := w.run(t, ref("targets"), map[string]any{"target": "noop"})
		require.Equal(t, "SUCCEEDED", run.Status, "noop handles the failure: %+v", run)
		require.Equal(t, []string{"bad"}, run.taskNames())
		require.Equal(t, map[string]any{"reason": "ignored"}, run.output(t))
	})

	t.Run("FailTarget", func(t *testing.T) {
		t.Parallel()
		run := w.run(t, ref("targets"), map[string]any{"target": "fail"})
		require.Equal(t, "FAILED", run.Status, "%+v", run)
		require.Equal(t, "FAILED", run.wf(t).Status)
		require.Equal(t, []string{"bad"}, run.taskNames())
		require.Equal(t, map[string]any{"reason": "failed on purpose"}, run.output(t), "published before failing")
		require.NotEmpty(t, run.errors(t))
		if lang == orquestaLang {
			var res struct {
				Output map[string]any
				Errors []any
			}
			require.NoError(t, json.Unmarshal(run.Result, &res), string(run.Result))
			require.Equal(t, map[string]any{"reason": "failed on purpose"}, res.Output)
			require.NotEmpty(t, res.Errors)
		}
	})

	t.Run("BadParametersRefused", func(t *testing.T) {
		t.Parallel()
		// A workflow's parameters are checked like any action's.
		for _, params := range []string{`{name: "x", nope: 1}`, `{}`} {
			e := w.gql.Fail(t, `mutation($a: String!) { executeAction(input: {action: $a, parameters: `+params+`}) { execution { id } } }`,
				map[string]any{"a": ref("sequence")})
			require.Equal(t, "BAD_USER_INPUT", e.Code(), "%s: %+v", params, e)
		}
	})

	if lang == orquestaLang {
		t.Run("RuntimeExpressionError", func(t *testing.T) {
			t.Parallel()
			// A task input reading a variable that does not exist: the task
			// fails without running its action, and the errors name the
			// expression and the cause, as StackStorm's.
			run := w.run(t, "wf_st2.bad_expr", nil)
			require.Equal(t, "FAILED", run.Status, "%+v", run)
			require.Equal(t, []string{"first", "render"}, run.taskNames(), "%+v", run)
			require.Empty(t, run.children("render"), "the action never ran")
			require.Contains(t, string(run.wf(t).Errors), "ctx().data.nothere", "the expression")
			require.Contains(t, string(run.Result), "ctx().data.nothere", "result.errors")
		})
	}

	t.Run("PauseResume", func(t *testing.T) {
		t.Parallel()
		testPauseResume(t, w, ref("gated"))
	})

	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		testCancel(t, w, ref("gated"))
	})

	t.Run("RerunFromFailedTask", func(t *testing.T) {
		t.Parallel()
		marker := filepath.Join(w.dir, strings.NewReplacer("/", "_").Replace(t.Name())+".marker")
		run := w.run(t, ref("rerun"), map[string]any{"marker": marker})
		require.Equal(t, "FAILED", run.Status, "%+v", run)
		require.Equal(t, []string{"first", "check"}, run.taskNames())

		require.NoError(t, os.WriteFile(marker, nil, 0o644))
		var got struct{ RerunExecution struct{ ID, Status string } }
		res := w.gql.Do(t, `mutation($id: ID!) { rerunExecution(input: {id: $id, tasks: ["check"]}) { id status } }`,
			map[string]any{"id": run.ID})
		require.Empty(t, res.Errors)
		require.NoError(t, json.Unmarshal(res.Data, &got))
		require.NotEqual(t, run.ID, got.RerunExecution.ID, "a re-run is a new execution")
		w.waitStatus(t, got.RerunExecution.ID, "SUCCEEDED", "FAILED", "CANCELED")
		again := w.read(t, got.RerunExecution.ID)
		require.Equal(t, "SUCCEEDED", again.Status, "%+v", again)
		// StackStorm keeps the workflow's task runs across a re-run; the new
		// execution may list the earlier ones, but first runs no more and
		// check once more, successfully.
		origFirst := run.children("first")
		require.Len(t, origFirst, 1)
		for _, c := range again.children("first") {
			require.Equal(t, origFirst[0].ID, c.ID, "first is not run again")
		}
		var checks []string
		for _, c := range again.children("check") {
			checks = append(checks, c.Status)
		}
		require.Contains(t, checks, "SUCCEEDED")
		require.Equal(t, 1, countOf(checks, "SUCCEEDED"), "check re-ran once: %v", checks)
		require.Equal(t, "check", again.taskNames()[len(again.taskNames())-1])
		require.Equal(t, map[string]any{"first": "one", "checked": "fixed"}, again.output(t),
			"first's published value is kept from the failed run")
		// The failed run is left as it was.
		require.Equal(t, "FAILED", w.read(t, run.ID).Status)
	})

	t.Run("RerunOfUnknownTaskRefused", func(t *testing.T) {
		t.Parallel()
		marker := filepath.Join(w.dir, "never-"+strings.NewReplacer("/", "_").Replace(t.Name()))
		run := w.run(t, ref("rerun"), map[string]any{"marker": marker})
		require.Equal(t, "FAILED", run.Status, "%+v", run)
		res := w.gql.Do(t, `mutation($id: ID!) { rerunExecution(input: {id: $id, tasks: ["nope"]}) { id } }`,
			map[string]any{"id": run.ID})
		require.NotEmpty(t, res.Errors)
		e := res.Errors[0]
		require.Equal(t, "BAD_USER_INPUT", e.Code(), "%+v", e)
		require.Contains(t, e.Message, "nope")
	})
}

// testPauseResume pauses the gated workflow while its first task runs:
// PAUSING until that task ends, then PAUSED with nothing more started;
// resumed, it runs the rest and succeeds.
func testPauseResume(t *testing.T, w *wfServer, ref string) {
	gate := w.gate(t)
	id := w.start(t, ref, map[string]any{"gate": gate})
	w.waitTask(t, id, "wait", "RUNNING")
	var p struct{ PauseExecution struct{ Status string } }
	w.gql.Must(t, `mutation($id: ID!) { pauseExecution(id: $id) { status } }`, map[string]any{"id": id}, &p)
	require.Equal(t, "PAUSING", p.PauseExecution.Status, "a task still runs")
	require.Equal(t, "PAUSING", w.read(t, id).Status)

	release(t, gate)
	w.waitStatus(t, id, "PAUSED")
	run := w.read(t, id)
	// Nothing starts while paused: after may be listed, held back, without
	// a child execution.
	require.Equal(t, "wait", run.taskNames()[0])
	require.Empty(t, run.children("after"), "nothing starts while paused: %+v", run.wf(t).Tasks)
	for _, task := range run.wf(t).Tasks[1:] {
		require.Equal(t, "after", task.Name)
		require.Nil(t, task.Execution)
	}
	require.Equal(t, "SUCCEEDED", run.wf(t).Tasks[0].Status)
	require.Equal(t, "released\n", run.children("wait")[0].Stdout)

	// Pausing again changes nothing: StackStorm's request_pause returns a
	// pausing or paused execution as it is (a CONFLICT says the same).
	again := w.gql.Do(t, `mutation($id: ID!) { pauseExecution(id: $id) { status } }`, map[string]any{"id": id})
	if len(again.Errors) > 0 {
		require.Equal(t, "CONFLICT", again.Errors[0].Code(), "%+v", again.Errors)
	} else {
		require.JSONEq(t, `{"pauseExecution": {"status": "PAUSED"}}`, string(again.Data))
	}

	var r struct{ ResumeExecution struct{ Status string } }
	w.gql.Must(t, `mutation($id: ID!) { resumeExecution(id: $id) { status } }`, map[string]any{"id": id}, &r)
	require.Contains(t, []string{"RUNNING", "SUCCEEDED"}, r.ResumeExecution.Status)
	require.Equal(t, "SUCCEEDED", w.waitStatus(t, id, "SUCCEEDED", "FAILED", "CANCELED"))
	require.Equal(t, []string{"wait", "after"}, w.read(t, id).taskNames())

	// Resuming a finished workflow is a conflict.
	e := w.gql.Fail(t, `mutation($id: ID!) { resumeExecution(id: $id) { status } }`, map[string]any{"id": id})
	require.Equal(t, "CONFLICT", e.Code(), "%+v", e)
}

// testCancel cancels the gated workflow while its first task runs: the
// cancel reaches the running child, and nothing after it starts.
func testCancel(t *testing.T, w *wfServer, ref string) {
	gate := w.gate(t)
	id := w.start(t, ref, map[string]any{"gate": gate})
	w.waitTask(t, id, "wait", "RUNNING")
	var c struct{ CancelExecution struct{ Status string } }
	w.gql.Must(t, `mutation($id: ID!) { cancelExecution(id: $id) { status } }`, map[string]any{"id": id}, &c)
	require.Contains(t, []string{"CANCELING", "CANCELED"}, c.CancelExecution.Status)
	require.Equal(t, "CANCELED", w.waitStatus(t, id, "CANCELED", "SUCCEEDED", "FAILED"))
	run := w.read(t, id)
	require.Equal(t, []string{"wait"}, run.taskNames(), "nothing starts after a cancel")
	wait := run.children("wait")
	require.Len(t, wait, 1)
	require.Equal(t, "CANCELED", wait[0].Status, "the cancel cascades to the running child")
	require.Equal(t, "CANCELED", run.wf(t).Status)
}

// testChains runs action-chains: sequence with publish, on-success and
// on-failure, an unhandled failure, nesting (a chain calling a chain and an
// Orquesta workflow), pause/resume and cancel.
func testChains(t *testing.T, w *wfServer) {
	t.Run("SequenceAndPublish", func(t *testing.T) {
		t.Parallel()
		run := w.run(t, "wf_st2.chain_sequence", map[string]any{"name": "ada"})
		require.Equal(t, "SUCCEEDED", run.Status, "%+v", run)
		require.NotNil(t, run.Workflow)
		require.Equal(t, []string{"greet", "shout", "done"}, run.taskNames())
		shout := run.children("shout")
		require.Len(t, shout, 1)
		require.Equal(t, "HELLO ADA\n", shout[0].Stdout, "vars and the published greeting")
	})
	t.Run("OnSuccess", func(t *testing.T) {
		t.Parallel()
		run := w.run(t, "wf_st2.chain_branch", map[string]any{"cmd": "true"})
		require.Equal(t, "SUCCEEDED", run.Status, "%+v", run)
		require.Equal(t, []string{"check", "on_ok"}, run.taskNames())
	})
	t.Run("OnFailure", func(t *testing.T) {
		t.Parallel()
		run := w.run(t, "wf_st2.chain_branch", map[string]any{"cmd": "exit 4"})
		// StackStorm: a chain's status is its last task's.
		require.Equal(t, "SUCCEEDED", run.Status, "%+v", run)
		require.Equal(t, []string{"check", "on_err"}, run.taskNames())
		require.Equal(t, "failed with 4\n", run.children("on_err")[0].Stdout)
	})
	t.Run("UnhandledFailure", func(t *testing.T) {
		t.Parallel()
		run := w.run(t, "wf_st2.chain_unhandled", nil)
		require.Equal(t, "FAILED", run.Status, "%+v", run)
		require.Equal(t, []string{"bad"}, run.taskNames())
	})
	t.Run("Nested", func(t *testing.T) {
		t.Parallel()
		run := w.run(t, "wf_st2.chain_nested", map[string]any{"name": "cy"})
		require.Equal(t, "SUCCEEDED", run.Status, "%+v", run)
		require.Equal(t, []string{"sub", "flow"}, run.taskNames())
		sub := w.read(t, run.children("sub")[0].ID)
		require.Equal(t, []string{"greet", "shout", "done"}, sub.taskNames())
		flow := w.read(t, run.children("flow")[0].ID)
		require.Equal(t, map[string]any{"greeting": "hello cy", "loud": "HELLO CY"}, flow.output(t))
	})
	t.Run("PauseResume", func(t *testing.T) {
		t.Parallel()
		testPauseResume(t, w, "wf_st2.chain_gated")
	})
	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		testCancel(t, w, "wf_st2.chain_gated")
	})
}

// conformanceCase is one case of orquesta's conducting tests
// (orquesta/tests/unit/conducting/native), run for real on an adapted copy
// of its workflow (testdata/workflows/wf_conformance): where orquesta's
// test mocks a task's failure, the case gives that task a failing command.
type conformanceCase struct {
	name   string
	from   string // the orquesta test the expectations come from
	action string // in wf_conformance
	params map[string]any
	status string
	// output is the workflow's expected output; nil leaves it unchecked.
	output map[string]any
	// tasks are the task runs orquesta's expected_task_sequence lists,
	// without the engine's directives (continue, noop, fail), which are no
	// tasks; in start order when ordered, else as a multiset.
	tasks   []string
	ordered bool
	// concurrency, when set, bounds the task runs at once.
	concurrency int
}

var failing = "exit 1"

// orquestaConformance lists the cases with the results orquesta's tests
// document for them.
var orquestaConformance = []conformanceCase{
	{name: "sequential", from: "test_workflow_basic.py test_sequential", action: "sequential",
		params: map[string]any{"name": "Stanley"}, status: "SUCCEEDED",
		output: map[string]any{"greeting": "Stanley, All your base are belong to us!"},
		tasks:  []string{"task1", "task2", "task3"}, ordered: true},
	{name: "parallel", from: "test_workflow_basic.py test_parallel", action: "parallel", status: "SUCCEEDED",
		tasks: []string{"task1", "task4", "task2", "task5", "task3", "task6"}},
	{name: "branching", from: "test_workflow_basic.py test_branching", action: "branching", status: "SUCCEEDED",
		tasks: []string{"task1", "task2", "task4", "task3", "task5"}},
	{name: "decision a", from: "test_workflow_basic.py test_decision_tree", action: "decision",
		params: map[string]any{"which": "a"}, status: "SUCCEEDED", tasks: []string{"t1", "a"}, ordered: true},
	{name: "decision c", from: "test_workflow_basic.py test_decision_tree", action: "decision",
		params: map[string]any{"which": "c"}, status: "SUCCEEDED", tasks: []string{"t1", "c"}, ordered: true},
	{name: "error handling, no error", from: "test_workflow_task_transition.py test_no_error", action: "error_handling",
		status: "SUCCEEDED", tasks: []string{"task1", "task2"}, ordered: true},
	{name: "error handling, on error", from: "test_workflow_task_transition.py test_on_error", action: "error_handling",
		params: map[string]any{"task1_cmd": failing}, status: "SUCCEEDED", tasks: []string{"task1", "task3"}, ordered: true},
	{name: "continue, success path", from: "test_workflow_error_handling.py test_error_continue_success_path",
		action: "error_handling_continue", status: "SUCCEEDED", output: map[string]any{"message": "hooray!!!"},
		tasks: []string{"task1", "task2"}, ordered: true},
	{name: "continue, failure path", from: "test_workflow_error_handling.py test_error_continue_failure_path",
		action: "error_handling_continue", params: map[string]any{"task1_cmd": failing}, status: "FAILED",
		output: map[string]any{"message": "$%#&@#$!!!"}, tasks: []string{"task1"}, ordered: true},
	{name: "noop, failure path", from: "test_workflow_error_handling.py test_error_noop_failure_path",
		action: "error_handling_noop", params: map[string]any{"task1_cmd": failing}, status: "SUCCEEDED",
		output: map[string]any{"message": "$%#&@#$!!!"}, tasks: []string{"task1"}, ordered: true},
	{name: "fail, success path", from: "test_workflow_error_handling.py test_error_fail_success_path",
		action: "error_handling_fail", status: "SUCCEEDED", output: map[string]any{"message": "hooray!!!"},
		tasks: []string{"task1", "task2"}, ordered: true},
	{name: "fail, failure path", from: "test_workflow_error_handling.py test_error_fail_failure_path",
		action: "error_handling_fail", params: map[string]any{"task1_cmd": failing}, status: "FAILED",
		output: map[string]any{"message": "$%#&@#$!!!"}, tasks: []string{"task1", "task3"}, ordered: true},
	{name: "on complete, succeeded branch", from: "test_workflow_task_transition.py test_on_complete_from_succeeded_branch",
		action: "task_on_complete", status: "SUCCEEDED", tasks: []string{"task1", "task2", "task4"}},
	{name: "on complete, failed branch", from: "test_workflow_task_transition.py test_on_complete_from_failed_branch",
		action: "task_on_complete", params: map[string]any{"task1_cmd": failing}, status: "SUCCEEDED",
		tasks: []string{"task1", "task3", "task4"}},
	{name: "join", from: "test_workflow_join.py test_join", action: "join", status: "SUCCEEDED",
		tasks: []string{"task1", "task2", "task4", "task3", "task5", "task6", "task7"}},
	{name: "join, no inbound", from: "test_workflow_join.py test_join_no_inbound", action: "join",
		params: map[string]any{"task3_cmd": failing, "task5_cmd": failing}, status: "FAILED",
		tasks: []string{"task1", "task2", "task4", "task3", "task5"}},
	{name: "join, single inbound from left", from: "test_workflow_join.py test_join_single_inbound_from_left", action: "join",
		params: map[string]any{"task3_cmd": failing}, status: "FAILED",
		tasks: []string{"task1", "task2", "task4", "task3", "task5"}},
	{name: "join count, satisfied with a branch in error", from: "test_workflow_join.py test_join_count_satisfied_with_branch_error_1",
		action: "join_count", params: map[string]any{"task6_cmd": failing}, status: "SUCCEEDED",
		tasks: []string{"task1", "task2", "task4", "task6", "task3", "task5", "task8"}},
	{name: "cycle", from: "test_workflow_cycle.py test_cycle", action: "cycle", status: "SUCCEEDED",
		tasks:   []string{"prep", "task1", "task2", "task3", "task1", "task2", "task3", "task1", "task2", "task3"},
		ordered: true},
	{name: "with items", from: "test_workflow_with_items.py test_basic_items_list", action: "with_items_transition",
		status: "SUCCEEDED", output: map[string]any{"items": []any{"fee", "fi", "fo", "fum"}},
		tasks: []string{"task1", "task1", "task1", "task1", "task2"}},
	{name: "with items, error and remediation", from: "test_workflow_with_items.py test_items_list_with_error_and_remediation",
		action: "with_items_remediate", status: "SUCCEEDED",
		tasks: []string{"task1", "task1", "task1", "task1", "task2"}},
	{name: "with items concurrency", from: "test_task_rendering_for_with_items.py (with-items-concurrency.yaml)",
		action: "with_items_concurrency", params: map[string]any{"members": []any{"Lakshmi", "Lindsay", "Tomaz", "Matt", "Drew"}},
		status: "SUCCEEDED", tasks: []string{"task1", "task1", "task1", "task1", "task1"}, concurrency: 2},
	{name: "retry spec, succeeds", from: "test_workflow_task_retry (task-retry-spec.yaml)", action: "task_retry_spec",
		status: "SUCCEEDED", tasks: []string{"task1", "task2"}, ordered: true},
	{name: "retry spec, fails after count retries", from: "test_workflow_task_retry (task-retry-spec.yaml: count 3)",
		action: "task_retry_spec", params: map[string]any{"task1_cmd": failing}, status: "FAILED",
		tasks: []string{"task1", "task1", "task1", "task1"}, ordered: true},
}

// TestOrquestaConformance runs orquesta's own conformance workflows,
// adapted, through the real server on both backends, and compares the
// final status, the output and the tasks that ran with what orquesta's
// tests document.
func TestOrquestaConformance(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		w := startWorkflowServer(t, backend)
		for _, tc := range orquestaConformance {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				run := w.run(t, "wf_conformance."+tc.action, tc.params)
				require.Equal(t, tc.status, run.Status, "%s: %+v", tc.from, run)
				require.NotNil(t, run.Workflow, tc.from)
				require.Equal(t, tc.status, run.wf(t).Status, tc.from)
				require.Equal(t, "orquesta", strings.ToLower(run.wf(t).Language))
				if tc.ordered {
					require.Equal(t, tc.tasks, run.taskNames(), tc.from)
				} else {
					require.ElementsMatch(t, tc.tasks, run.taskNames(), tc.from)
					require.Equal(t, tc.tasks[0], run.taskNames()[0], "%s: starts with: %v", tc.from, run.taskNames())
				}
				var res struct {
					Output map[string]any
					Errors []any
				}
				require.NoError(t, json.Unmarshal(run.Result, &res), string(run.Result))
				if tc.output != nil {
					require.Equal(t, tc.output, run.output(t), tc.from)
					require.Equal(t, tc.output, res.Output, "%s: result.output", tc.from)
				}
				if tc.status == "FAILED" {
					require.NotEmpty(t, res.Errors, "%s: result.errors", tc.from)
				} else {
					require.Empty(t, res.Errors, "%s: result.errors", tc.from)
				}
				if tc.concurrency > 0 {
					requireMaxOverlap(t, run.children(tc.tasks[0]), tc.concurrency)
				}
			})
		}
	})
}

// TestWorkflowSurvivesKill kills the node running a workflow with SIGKILL
// while the workflow waits for its delayed second task: another node (on
// SQLite, the restarted one) carries the workflow on to its end, and no
// task runs twice.
func TestWorkflowSurvivesKill(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		dbURL := dbtest.URL(t, backend)
		doomed := startDoomed(t, nil, "-database-url", dbURL)
		installWorkflowPacks(t, doomed)
		var other *server
		if backend == "postgres" { // nodes share PostgreSQL; SQLite has one at a time
			other = startServer(t, nil, "-database-url", dbURL)
		}
		id := execute(t, doomed, "wf_st2.durable", nil)
		w := &wfServer{server: doomed, gql: client(doomed, "")}
		w.waitTask(t, id, "before", "SUCCEEDED")
		require.NoError(t, doomed.cmd.Process.Kill())
		<-doomed.done

		if other == nil {
			other = startServer(t, nil, "-database-url", dbURL)
		}
		w = &wfServer{server: other, gql: client(other, "")}
		require.Equal(t, "SUCCEEDED", w.waitStatus(t, id, "SUCCEEDED", "FAILED", "CANCELED", "ABANDONED"))
		run := w.read(t, id)
		require.Equal(t, []string{"before", "later", "last"}, run.taskNames())
		for _, name := range []string{"before", "later", "last"} {
			require.Len(t, run.children(name), 1, "%s runs once", name)
		}
		require.Equal(t, "after the kill\n", run.children("later")[0].Stdout)
	})
}
