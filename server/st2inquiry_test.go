package main

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
)

// StackStorm's inquiry examples run unmodified through the real server.
// The actions and their workflow files are the copies in
// internal/workflow/spec/testdata/st2examples (see its NOTICE); the
// sequences asserted are those of StackStorm's
// st2tests/integration/orquesta/test_wiring_inquiry.py,
// contrib/runners/orquesta_runner/tests/unit/test_inquiries.py (workflow
// RUNNING → PAUSED once only the pending task is left → RUNNING on the
// answer → SUCCEEDED), st2common/services/inquiry.py (respond: resume the
// parent, succeed the asking execution with result.response) and
// contrib/runners/inquirer_runner (result {schema, roles, users, route, ttl};
// under an action-chain the root workflow pauses).

// st2InquiryActions are the examples pack's files these examples need:
// each action's metadata and its workflow; orquesta-ask-nested runs
// orquesta-ask-basic, chain-test-inquiry-parent runs chain-test-inquiry.
var st2InquiryActions = []string{
	"orquesta-ask-basic.yaml", "workflows/orquesta-ask-basic.yaml",
	"orquesta-ask-consecutive.yaml", "workflows/orquesta-ask-consecutive.yaml",
	"orquesta-ask-parallel.yaml", "workflows/orquesta-ask-parallel.yaml",
	"orquesta-ask-nested.yaml", "workflows/orquesta-ask-nested.yaml",
	"orquesta-ask-multiple-parameters.yaml", "workflows/orquesta-ask-multiple-parameters.yaml",
	"chain-test-inquiry.yaml", "chains/chain_test_inquiry.yaml",
	"chain-test-inquiry-parent.yaml", "chains/chain_test_inquiry_parent.yaml",
}

// st2InquiryPack is a pack named examples holding only those files, with
// StackStorm's own pack.yaml of contrib/examples.
func st2InquiryPack(t *testing.T) string {
	t.Helper()
	files := map[string]string{
		"pack.yaml": "---\nname: examples\ndescription: Example sensors, triggers, actions and rules.\n" +
			"version: 0.2.1\nauthor : StackStorm, Inc.\nemail : info@stackstorm.com\n",
	}
	for _, name := range st2InquiryActions {
		body, err := os.ReadFile(filepath.Join("..", "internal", "workflow", "spec", "testdata", "st2examples", "actions", filepath.FromSlash(name)))
		require.NoError(t, err)
		files[path.Join("actions", name)] = string(body)
	}
	return writeTree(t, files)
}

// st2Task is a workflow task with the execution that runs it.
type st2Task struct {
	Name, Status string
	Execution    *struct {
		ID, Status, Stdout string
		Result             map[string]any
	}
}

type st2Workflow struct {
	Status string
	Result map[string]any
	Tasks  []st2Task
}

// st2Read reads a workflow execution and its tasks.
func st2Read(t *testing.T, gql *gqltest.Client, id string) st2Workflow {
	t.Helper()
	var out struct {
		Node struct {
			Status   string
			Result   map[string]any
			Workflow *struct{ Tasks []st2Task }
		}
	}
	gql.Must(t, `query($id: ID!) { node(id: $id) { ... on Execution { status result
		workflow { tasks { name status execution { id status stdout result } } } } } }`, map[string]any{"id": id}, &out)
	wf := st2Workflow{Status: out.Node.Status, Result: out.Node.Result}
	if out.Node.Workflow != nil {
		wf.Tasks = out.Node.Workflow.Tasks
	}
	return wf
}

// names are the workflow's tasks as "name STATUS", in order.
func (w st2Workflow) names() []string {
	var out []string
	for _, task := range w.Tasks {
		out = append(out, task.Name+" "+task.Status)
	}
	return out
}

func (w st2Workflow) task(t *testing.T, name string) st2Task {
	t.Helper()
	for _, task := range w.Tasks {
		if task.Name == name {
			require.NotNil(t, task.Execution, "task %s has no execution", name)
			return task
		}
	}
	t.Fatalf("no task %s in %v", name, w.names())
	return st2Task{}
}

var st2Final = map[string]bool{"SUCCEEDED": true, "FAILED": true, "CANCELED": true, "TIMEOUT": true, "ABANDONED": true}

// st2WaitState is StackStorm's _wait_for_state: the execution reaches
// status (a final status other than the one awaited ends the wait).
func st2WaitState(t *testing.T, gql *gqltest.Client, id, status string) st2Workflow {
	t.Helper()
	var wf st2Workflow
	eventually(t, execDeadline, "execution "+id+" "+status, func() bool {
		wf = st2Read(t, gql, id)
		if wf.Status != status && st2Final[wf.Status] {
			t.Fatalf("execution %s ended %s, not %s: %v %v", id, wf.Status, status, wf.names(), wf.Result)
		}
		return wf.Status == status
	})
	return wf
}

// st2WaitTask is StackStorm's _wait_for_task: the workflow's task name has
// an execution of that status.
func st2WaitTask(t *testing.T, gql *gqltest.Client, wf, name, status string) st2Task {
	t.Helper()
	var got st2Task
	eventually(t, execDeadline, "task "+name+" "+status, func() bool {
		for _, task := range st2Read(t, gql, wf).Tasks {
			if task.Name == name && task.Execution != nil && task.Execution.Status == status {
				got = task
				return true
			}
		}
		return false
	})
	return got
}

// st2Inquiry is an inquiry with its schema and timeout.
type st2Inquiry struct {
	inquiryView
	ResponseSchema map[string]any
	TTL            float64
	TimeoutAt      time.Time
}

func st2ReadInquiry(t *testing.T, gql *gqltest.Client, id string) st2Inquiry {
	t.Helper()
	var out struct{ Inquiry st2Inquiry }
	gql.Must(t, `query($id: ID!) { inquiry(id: $id) { `+inquiryFields+` responseSchema ttl timeoutAt } }`,
		map[string]any{"id": id}, &out)
	return out.Inquiry
}

// st2Respond is st2client.inquiries.respond(execution id, response): the
// answer is accepted and the inquiry RESPONDED.
func st2Respond(t *testing.T, gql *gqltest.Client, executionID string, response map[string]any) {
	t.Helper()
	got, e := respond(gql, t, executionID, response)
	require.Nil(t, e, "%+v", e)
	require.Equal(t, "RESPONDED", got.Status)
	require.Equal(t, executionID, got.ExecutionID)
	require.Equal(t, response, got.Response)
}

// st2Refused answers with a response the schema refuses: BAD_USER_INPUT
// naming exactly these fields (StackStorm: 400 "did not pass schema
// validation").
func st2Refused(t *testing.T, gql *gqltest.Client, executionID string, response map[string]any, fields ...string) {
	t.Helper()
	_, e := respond(gql, t, executionID, response)
	require.NotNil(t, e, "%v is refused", response)
	require.Equal(t, "BAD_USER_INPUT", e.Code(), e.Message)
	raw, err := json.Marshal(e.Extensions["fields"])
	require.NoError(t, err)
	var got []struct{ Field, Message string }
	require.NoError(t, json.Unmarshal(raw, &got))
	var named []string
	for _, f := range got {
		require.NotEmpty(t, f.Message, f.Field)
		named = append(named, f.Field)
	}
	require.ElementsMatch(t, fields, named, "%s", raw)
}

// approvalSchema is the schema of orquesta-ask-basic's get_approval (and of
// the consecutive and parallel examples, but for the description).
func approvalSchema(description string) map[string]any {
	return map[string]any{"type": "object", "properties": map[string]any{
		"approved": map[string]any{"type": "boolean", "description": description, "required": true}}}
}

// st2AskResult is the inquirer's result once answered (StackStorm's
// inquiry service: the runner's {schema, roles, users, route, ttl} and the
// response).
func st2AskResult(schema map[string]any, route string, ttl float64, response map[string]any) map[string]any {
	return map[string]any{"schema": schema, "roles": []any{}, "users": []any{}, "route": route, "ttl": ttl, "response": response}
}

func TestSt2Inquiry(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		admin := client(s, s.token)
		var installed struct {
			InstallPack struct {
				Pack struct {
					Ref     string
					Actions struct {
						Edges []struct{ Node struct{ Ref string } }
					}
				}
			}
		}
		admin.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref actions { edges { node { ref } } } } } }`,
			map[string]any{"s": st2InquiryPack(t)}, &installed)
		require.Equal(t, "examples", installed.InstallPack.Pack.Ref)
		var refs []string
		for _, a := range installed.InstallPack.Pack.Actions.Edges {
			refs = append(refs, a.Node.Ref)
		}
		require.ElementsMatch(t, []string{"examples.orquesta-ask-basic", "examples.orquesta-ask-consecutive",
			"examples.orquesta-ask-parallel", "examples.orquesta-ask-nested", "examples.orquesta_ask_multiple_parameters",
			"examples.chain-test-inquiry", "examples.chain-test-inquiry-parent"}, refs)

		// test_wiring_inquiry.test_basic_inquiry and test_inquiries.test_inquiry.
		t.Run("basic", func(t *testing.T) {
			wf := execute(t, s, "examples.orquesta-ask-basic", nil)
			st := st2WaitState(t, admin, wf, "PAUSED")
			require.Equal(t, []string{"start SUCCEEDED", "get_approval PENDING"}, st.names())
			ask := st2WaitTask(t, admin, wf, "get_approval", "PENDING")

			inq := st2ReadInquiry(t, admin, ask.Execution.ID)
			require.Equal(t, "PENDING", inq.Status)
			require.Equal(t, "get_approval", inq.TaskName)
			require.Equal(t, wf, *inq.WorkflowID)
			require.Equal(t, approvalSchema("Continue?"), inq.ResponseSchema)
			require.Equal(t, 1440.0, inq.TTL, "the inquirer's default ttl")
			require.Empty(t, inq.Route)
			require.Empty(t, inq.AssignedTo.Users)
			require.Empty(t, inq.AssignedTo.Roles)

			// StackStorm's test_respond_fail: {"continue": 123} against the
			// default schema. Here: a wrong type, then the required field missing.
			st2Refused(t, admin, ask.Execution.ID, map[string]any{"approved": 123}, "approved")
			st2Refused(t, admin, ask.Execution.ID, map[string]any{}, "approved")
			require.Equal(t, "PAUSED", statusOf(t, admin, wf), "a refused answer changes nothing")
			require.Equal(t, "PENDING", statusOf(t, admin, ask.Execution.ID))

			st2Respond(t, admin, ask.Execution.ID, map[string]any{"approved": true})
			st = st2WaitState(t, admin, wf, "SUCCEEDED")
			require.Equal(t, []string{"start SUCCEEDED", "get_approval SUCCEEDED", "finish SUCCEEDED"}, st.names())
			require.Equal(t, "Automation completed.", strings.TrimSpace(st.task(t, "finish").Execution.Stdout))
			require.Equal(t, st2AskResult(approvalSchema("Continue?"), "", 1440, map[string]any{"approved": true}),
				st.task(t, "get_approval").Execution.Result)
			// StackStorm's result is {"output": null} for a workflow without an
			// output; attune's is {} (docs/workflows.md: {"output": …} when it
			// declares one).
			require.Equal(t, map[string]any{}, st.Result)

			// StackStorm's test_respond_duplicate_rejected ("has already been
			// responded to", 400): attune's CONFLICT.
			_, e := respond(admin, t, ask.Execution.ID, map[string]any{"approved": false})
			require.NotNil(t, e)
			require.Equal(t, "CONFLICT", e.Code(), e.Message)
		})

		// test_wiring_inquiry.test_consecutive_inquiries and
		// test_inquiries.test_consecutive_inquiries: paused on
		// get_approval, running again on the answer, paused on
		// get_confirmation, then done.
		t.Run("consecutive", func(t *testing.T) {
			wf := execute(t, s, "examples.orquesta-ask-consecutive", nil)
			st2WaitState(t, admin, wf, "PAUSED")
			first := st2WaitTask(t, admin, wf, "get_approval", "PENDING")
			require.Equal(t, approvalSchema("Continue?"), st2ReadInquiry(t, admin, first.Execution.ID).ResponseSchema)
			st2Respond(t, admin, first.Execution.ID, map[string]any{"approved": true})

			second := st2WaitTask(t, admin, wf, "get_confirmation", "PENDING")
			st := st2WaitState(t, admin, wf, "PAUSED")
			require.Equal(t, []string{"start SUCCEEDED", "get_approval SUCCEEDED", "get_confirmation PENDING"}, st.names())
			inq := st2ReadInquiry(t, admin, second.Execution.ID)
			require.Equal(t, "get_confirmation", inq.TaskName)
			require.Equal(t, approvalSchema("Really?"), inq.ResponseSchema)
			st2Respond(t, admin, second.Execution.ID, map[string]any{"approved": true})

			st = st2WaitState(t, admin, wf, "SUCCEEDED")
			require.Equal(t, []string{"start SUCCEEDED", "get_approval SUCCEEDED", "get_confirmation SUCCEEDED",
				"finish SUCCEEDED"}, st.names())
			require.Equal(t, "Automation completed.", strings.TrimSpace(st.task(t, "finish").Execution.Stdout))
		})

		// test_wiring_inquiry.test_parallel_inquiries and
		// test_inquiries.test_parallel_inquiries: both branches ask; the
		// workflow pauses once both are pending; answering ask_jack leaves
		// it paused on ask_jill (finish joins both); answering ask_jill
		// runs finish once.
		t.Run("parallel", func(t *testing.T) {
			wf := execute(t, s, "examples.orquesta-ask-parallel", nil)
			st2WaitState(t, admin, wf, "PAUSED")
			jack := st2WaitTask(t, admin, wf, "ask_jack", "PENDING")
			jill := st2WaitTask(t, admin, wf, "ask_jill", "PENDING")
			require.ElementsMatch(t, []string{"start SUCCEEDED", "ask_jack PENDING", "ask_jill PENDING"}, st2Read(t, admin, wf).names())
			require.Equal(t, approvalSchema("Jill?"), st2ReadInquiry(t, admin, jack.Execution.ID).ResponseSchema)
			require.Equal(t, approvalSchema("Jack?"), st2ReadInquiry(t, admin, jill.Execution.ID).ResponseSchema)
			// StackStorm's test_get_all_decrease_after_respond: the pending
			// inquiries are one fewer after each answer.
			pending := func() int {
				var out struct{ Inquiries struct{ TotalCount int } }
				admin.Must(t, `query($wf: ID!) { inquiries(where: {workflowID: $wf, status: PENDING}) { totalCount } }`,
					map[string]any{"wf": wf}, &out)
				return out.Inquiries.TotalCount
			}
			require.Equal(t, 2, pending())

			st2Respond(t, admin, jack.Execution.ID, map[string]any{"approved": true})
			require.Equal(t, 1, pending())
			st2WaitTask(t, admin, wf, "ask_jack", "SUCCEEDED")
			st := st2WaitState(t, admin, wf, "PAUSED")
			require.ElementsMatch(t, []string{"start SUCCEEDED", "ask_jack SUCCEEDED", "ask_jill PENDING"}, st.names(),
				"still paused: the join waits for ask_jill")

			st2Respond(t, admin, jill.Execution.ID, map[string]any{"approved": true})
			require.Equal(t, 0, pending())
			st2WaitTask(t, admin, wf, "ask_jill", "SUCCEEDED")
			st = st2WaitState(t, admin, wf, "SUCCEEDED")
			require.ElementsMatch(t, []string{"start SUCCEEDED", "ask_jack SUCCEEDED", "ask_jill SUCCEEDED", "finish SUCCEEDED"},
				st.names(), "finish runs once")
		})

		// test_wiring_inquiry.test_nested_inquiry and
		// test_inquiries.test_nested_inquiry: the subworkflow pauses on its
		// pending task, the parent on its paused subworkflow; the answer
		// resumes both.
		t.Run("nested", func(t *testing.T) {
			wf := execute(t, s, "examples.orquesta-ask-nested", nil)
			st2WaitState(t, admin, wf, "PAUSED")
			sub := st2WaitTask(t, admin, wf, "get_approval", "PAUSED")
			require.Equal(t, []string{"start SUCCEEDED", "get_approval PAUSED"}, st2Read(t, admin, wf).names())
			ask := st2WaitTask(t, admin, sub.Execution.ID, "get_approval", "PENDING")
			require.Equal(t, []string{"start SUCCEEDED", "get_approval PENDING"}, st2Read(t, admin, sub.Execution.ID).names())
			inq := st2ReadInquiry(t, admin, ask.Execution.ID)
			require.Equal(t, sub.Execution.ID, *inq.WorkflowID, "the workflow the asking task is a task of")

			st2Respond(t, admin, ask.Execution.ID, map[string]any{"approved": true})
			st := st2WaitState(t, admin, wf, "SUCCEEDED")
			require.Equal(t, []string{"start SUCCEEDED", "get_approval SUCCEEDED", "finish SUCCEEDED"}, st.names())
			require.Equal(t, []string{"start SUCCEEDED", "get_approval SUCCEEDED", "finish SUCCEEDED"},
				st2Read(t, admin, sub.Execution.ID).names())
		})

		// orquesta-ask-multiple-parameters (StackStorm's
		// test_respond_multiple: a response of several fields): its three
		// transitions read result.response.
		t.Run("multiple-parameters", func(t *testing.T) {
			const ref = "examples.orquesta_ask_multiple_parameters" // the metadata's name
			schema := map[string]any{"type": "object", "properties": map[string]any{
				"approved":      map[string]any{"type": "boolean", "description": "Continue?", "required": true},
				"department_id": map[string]any{"type": "number", "description": "Your department ID:", "required": true},
				"extra_output": map[string]any{"type": "string",
					"description": "Your message to echo next if you approve to continue:"},
			}}

			// Approved with a message: echo_extra_message, then finish.
			wf := execute(t, s, ref, nil)
			st2WaitState(t, admin, wf, "PAUSED")
			ask := st2WaitTask(t, admin, wf, "get_approval", "PENDING")
			inq := st2ReadInquiry(t, admin, ask.Execution.ID)
			require.Equal(t, schema, inq.ResponseSchema)
			require.Equal(t, 60.0, inq.TTL, "the example's ttl")
			require.WithinDuration(t, time.Now().Add(time.Hour), inq.TimeoutAt, 5*time.Minute)
			st2Refused(t, admin, ask.Execution.ID, map[string]any{}, "approved", "department_id")
			st2Refused(t, admin, ask.Execution.ID, map[string]any{"approved": true, "department_id": "sales", "extra_output": 5},
				"department_id", "extra_output")
			response := map[string]any{"approved": true, "department_id": 42.0, "extra_output": "Ship it"}
			st2Respond(t, admin, ask.Execution.ID, response)
			st := st2WaitState(t, admin, wf, "SUCCEEDED")
			require.Equal(t, []string{"start SUCCEEDED", "get_approval SUCCEEDED", "echo_extra_message SUCCEEDED",
				"finish SUCCEEDED"}, st.names())
			require.Equal(t, "Extra info Ship it.", strings.TrimSpace(st.task(t, "echo_extra_message").Execution.Stdout))
			require.Equal(t, "Approved by department 42. Automation completed.",
				strings.TrimSpace(st.task(t, "finish").Execution.Stdout))
			require.Equal(t, st2AskResult(schema, "", 60, response), st.task(t, "get_approval").Execution.Result)

			// Approved without a message: straight to finish.
			wf = execute(t, s, ref, nil)
			ask = st2WaitTask(t, admin, wf, "get_approval", "PENDING")
			st2Respond(t, admin, ask.Execution.ID, map[string]any{"approved": true, "department_id": 7.0})
			st = st2WaitState(t, admin, wf, "SUCCEEDED")
			require.Equal(t, []string{"start SUCCEEDED", "get_approval SUCCEEDED", "finish SUCCEEDED"}, st.names())
			require.Equal(t, "Approved by department 7. Automation completed.",
				strings.TrimSpace(st.task(t, "finish").Execution.Stdout))

			// Refused: stop, then fail.
			wf = execute(t, s, ref, nil)
			ask = st2WaitTask(t, admin, wf, "get_approval", "PENDING")
			st2Respond(t, admin, ask.Execution.ID, map[string]any{"approved": false, "department_id": 7.0})
			st = st2WaitState(t, admin, wf, "FAILED")
			require.Equal(t, "Automation stopped.", strings.TrimSpace(st.task(t, "stop").Execution.Stdout))
			require.NotContains(t, st.names(), "finish SUCCEEDED")
		})

		// chain-test-inquiry: under an action-chain the inquirer pauses the
		// root workflow (inquirer_runner.post_run: request_pause(root)); the
		// answer resumes it (inquiry.respond: request_resume(root)) and
		// task2 renders task1.result.response.
		t.Run("action-chain", func(t *testing.T) {
			chain := execute(t, s, "examples.chain-test-inquiry", nil)
			st2WaitState(t, admin, chain, "PAUSED")
			ask := st2WaitTask(t, admin, chain, "task1", "PENDING")
			require.Equal(t, []string{"task1 PENDING"}, st2Read(t, admin, chain).names())
			schema := map[string]any{"type": "object", "properties": map[string]any{"secondfactor": map[string]any{
				"type": "string", "required": true,
				"description": `Please enter second factor for authenticating to "foo" service`}}}
			inq := st2ReadInquiry(t, admin, ask.Execution.ID)
			require.Equal(t, "developers", inq.Route)
			require.Equal(t, "task1", inq.TaskName)
			require.Equal(t, schema, inq.ResponseSchema)
			st2Refused(t, admin, ask.Execution.ID, map[string]any{"secondfactor": true}, "secondfactor")
			// The inquirer's trigger: StackStorm's {id, route} (id: the
			// inquiry's own, where StackStorm's is the execution's; attune
			// adds the execution's and more, docs/inquiries.md).
			ev := awaitEvent(t, admin, "core.st2.generic.inquiry", func(ev st2Event) bool {
				return strconv.FormatFloat(ev.Payload["execution_id"].(float64), 'f', -1, 64) == ask.Execution.ID
			})
			require.Equal(t, "developers", ev.Payload["route"])
			require.Equal(t, inq.ID, strconv.FormatFloat(ev.Payload["id"].(float64), 'f', -1, 64))

			st2Respond(t, admin, ask.Execution.ID, map[string]any{"secondfactor": "hunter2"})
			st := st2WaitState(t, admin, chain, "SUCCEEDED")
			require.Equal(t, []string{"task1 SUCCEEDED", "task2 SUCCEEDED"}, st.names())
			require.Equal(t, st2AskResult(schema, "developers", 1440, map[string]any{"secondfactor": "hunter2"}),
				st.task(t, "task1").Execution.Result)
			require.Equal(t, "We can now authenticate to foo service with hunter2",
				strings.TrimSpace(st.task(t, "task2").Execution.Stdout))
		})

		// chain-test-inquiry-parent: the nested chain asks; the root (the
		// parent chain) and the nested chain pause; the answer resumes the
		// root, the nested chain finishes, then the parent's task2 runs.
		t.Run("action-chain-parent", func(t *testing.T) {
			parent := execute(t, s, "examples.chain-test-inquiry-parent", nil)
			st2WaitState(t, admin, parent, "PAUSED")
			child := st2WaitTask(t, admin, parent, "task1", "PAUSED")
			require.Equal(t, []string{"task1 PAUSED"}, st2Read(t, admin, parent).names())
			ask := st2WaitTask(t, admin, child.Execution.ID, "task1", "PENDING")
			require.Equal(t, "PAUSED", statusOf(t, admin, child.Execution.ID))

			st2Respond(t, admin, ask.Execution.ID, map[string]any{"secondfactor": "hunter2"})
			st := st2WaitState(t, admin, parent, "SUCCEEDED")
			require.Equal(t, []string{"task1 SUCCEEDED", "task2 SUCCEEDED"}, st.names())
			require.Equal(t, "parent task2", strings.TrimSpace(st.task(t, "task2").Execution.Stdout))
			sub := st2Read(t, admin, child.Execution.ID)
			require.Equal(t, "SUCCEEDED", sub.Status)
			require.Equal(t, []string{"task1 SUCCEEDED", "task2 SUCCEEDED"}, sub.names())
			require.Equal(t, "We can now authenticate to foo service with hunter2",
				strings.TrimSpace(sub.task(t, "task2").Execution.Stdout))
		})
	})
}
