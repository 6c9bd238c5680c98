package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
)

// askPack is a pack whose Orquesta workflow asks for an approval (core.ask,
// assigned to the token named approver) while another branch works until
// the file gate exists, and a rule that routes its inquiries.
func askPack() map[string]string {
	return map[string]string{
		"pack.yaml": "name: asks\nref: asks\nversion: 1.0.0\ndescription: inquiries\nauthor: tests\n",
		"actions/approve.yaml": "name: approve\nrunner_type: orquesta\nentry_point: workflows/approve.yaml\n" +
			"description: asks for an approval\nparameters:\n  gate: {type: string, required: true}\n" +
			"  ttl: {type: number, default: 60}\n",
		"actions/workflows/approve.yaml": `version: 1.0
input:
  - gate
  - ttl
vars:
  - approved: null
tasks:
  start:
    action: core.noop
    next:
      - do: [get_approval, work]
  work:
    action: core.local cmd="while [ ! -e '<% ctx(gate) %>' ]; do sleep 0.05; done; echo worked"
    next:
      - when: <% succeeded() %>
        do: finish
  get_approval:
    action: core.ask
    input:
      prompt: Deploy to production?
      route: ops
      users: [approver]
      ttl: <% ctx(ttl) %>
      schema:
        type: object
        properties:
          approved: {type: boolean, required: true}
          reason: {type: string}
    next:
      - when: <% succeeded() %>
        publish:
          - approved: <% result().response.approved %>
        do: finish
      # Orquesta's failed() is the failed status only: a timed-out
      # inquiry's task is "timeout" (as in StackStorm).
      - when: <% completed() and not succeeded() %>
        do: stop
  finish:
    join: all
    action: core.echo message="approved <% ctx(approved) %>"
  stop:
    action: core.echo message="stopped"
    next:
      - do: fail
output:
  - approved: <% ctx(approved) %>
`,
		"actions/outer.yaml": "name: outer\nrunner_type: orquesta\nentry_point: workflows/outer.yaml\n" +
			"description: nests the approval\nparameters:\n  gate: {type: string, required: true}\n",
		"actions/workflows/outer.yaml": `version: 1.0
input:
  - gate
tasks:
  inner:
    action: asks.approve gate=<% ctx(gate) %>
    next:
      - when: <% succeeded() %>
        publish:
          - approved: <% result().output.approved %>
output:
  - approved: <% ctx(approved) %>
`,
		"rules/route.yaml": `---
name: route_inquiry
pack: asks
description: tells ops that an approval waits
enabled: true
trigger:
  type: core.st2.generic.inquiry
criteria:
  trigger.route:
    type: equals
    pattern: ops
action:
  ref: core.echo
  parameters:
    message: "Inquiry {{ trigger.id }} is awaiting an approval"
`,
	}
}

type inquiryView struct {
	ID          string
	Status      string
	Prompt      string
	Route       string
	TaskName    string
	ExecutionID string
	WorkflowID  *string
	Response    map[string]any
	RespondedBy *string
	AssignedTo  struct{ Users, Roles []string }
}

const inquiryFields = `id status prompt route taskName executionID workflowID response respondedBy assignedTo { users roles }`

// pendingInquiry waits for the PENDING inquiry asked inside workflow wf.
func pendingInquiry(t *testing.T, gql *gqltest.Client, wf string) inquiryView {
	t.Helper()
	var got inquiryView
	eventually(t, execDeadline, "the workflow's inquiry", func() bool {
		var out struct {
			Inquiries struct{ Edges []struct{ Node inquiryView } }
		}
		gql.Must(t, `query($wf: ID!) { inquiries(where: {workflowID: $wf, status: PENDING}) { edges { node { `+inquiryFields+` } } } }`,
			map[string]any{"wf": wf}, &out)
		if len(out.Inquiries.Edges) == 0 {
			return false
		}
		got = out.Inquiries.Edges[0].Node
		return true
	})
	return got
}

type askState struct {
	Status   string
	Error    string
	Result   json.RawMessage
	Workflow struct {
		Status  string
		Context map[string]any
		Tasks   []struct{ Name, Status string }
	}
}

func readWorkflow(t *testing.T, gql *gqltest.Client, id string) askState {
	t.Helper()
	var got struct{ Node askState }
	gql.Must(t, `query($id: ID!) { node(id: $id) { ... on Execution { status error result
		workflow { status context tasks { name status } } } } }`, map[string]any{"id": id}, &got)
	return got.Node
}

func statusOf(t *testing.T, gql *gqltest.Client, id string) string {
	t.Helper()
	var got struct{ Node struct{ Status string } }
	gql.Must(t, `query($id: ID!) { node(id: $id) { ... on Execution { status } } }`, map[string]any{"id": id}, &got)
	return got.Node.Status
}

func respond(gql *gqltest.Client, t *testing.T, id string, response map[string]any) (inquiryView, *gqltest.Error) {
	t.Helper()
	var out struct{ RespondInquiry inquiryView }
	q := `mutation($id: ID!, $r: JSON!) { respondInquiry(input: {id: $id, response: $r}) { ` + inquiryFields + ` } }`
	vars := map[string]any{"id": id, "r": response}
	resp := gql.Do(t, q, vars)
	if len(resp.Errors) > 0 {
		return inquiryView{}, &resp.Errors[0]
	}
	require.NoError(t, json.Unmarshal(resp.Data, &out), string(resp.Data))
	return out.RespondInquiry, nil
}

// TestInquiryApproval: an Orquesta workflow asks with core.ask while
// another branch runs (the workflow stays RUNNING, the asking task is
// PENDING), then only the asking branch is left (PAUSED). A token not
// assigned is FORBIDDEN, an answer the schema refuses is BAD_USER_INPUT
// with the field, the assigned token's answer resumes the workflow with
// the response in its context, a second answer is CONFLICT. The inquiry
// streams on inquiryCreated/inquiryUpdated and is an event a rule routes.
func TestInquiryApproval(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		admin := client(s, s.token)
		admin.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`,
			map[string]any{"s": writeTree(t, askPack())}, nil)
		approver := client(s, newToken(t, admin, "approver", "VIEWER", nil))
		outsider := client(s, newToken(t, admin, "outsider", "OPERATOR", nil))

		ctx, cancel := context.WithTimeout(t.Context(), execDeadline)
		defer cancel()
		created := subscribe(t, ctx, s, `subscription { inquiryCreated { id status prompt } }`, nil)

		gate := filepath.Join(t.TempDir(), "gate")
		wf := execute(t, s, "asks.approve", map[string]any{"gate": gate})
		inq := pendingInquiry(t, admin, wf)
		require.Equal(t, "Deploy to production?", inq.Prompt)
		require.Equal(t, "ops", inq.Route)
		require.Equal(t, "get_approval", inq.TaskName)
		require.Equal(t, []string{"approver"}, inq.AssignedTo.Users)
		require.Empty(t, inq.AssignedTo.Roles)

		var first struct {
			InquiryCreated struct{ ID, Status, Prompt string }
		}
		require.NoError(t, json.Unmarshal(<-created, &first))
		require.Equal(t, inq.ID, first.InquiryCreated.ID)
		require.Equal(t, "PENDING", first.InquiryCreated.Status)

		// The other branch still works: the workflow runs, its asking task waits.
		require.Equal(t, "PENDING", statusOf(t, admin, inq.ExecutionID))
		st := readWorkflow(t, admin, wf)
		require.Equal(t, "RUNNING", st.Status)
		require.Contains(t, st.Workflow.Tasks, struct{ Name, Status string }{"get_approval", "PENDING"})
		// Only the asking branch left: PAUSED.
		require.NoError(t, os.WriteFile(gate, nil, 0o600))
		eventually(t, execDeadline, "the workflow to pause on its inquiry", func() bool { return statusOf(t, admin, wf) == "PAUSED" })

		updates := subscribe(t, ctx, s, `subscription($id: ID!) { inquiryUpdated(id: $id) { id status respondedBy } }`,
			map[string]any{"id": inq.ID})

		_, e := respond(outsider, t, inq.ID, map[string]any{"approved": true})
		require.NotNil(t, e)
		require.Equal(t, "FORBIDDEN", e.Code(), e.Message)
		_, e = respond(approver, t, inq.ID, map[string]any{"approved": "yes", "extra": 1})
		require.NotNil(t, e)
		require.Equal(t, "BAD_USER_INPUT", e.Code(), e.Message)
		fields, _ := json.Marshal(e.Extensions["fields"])
		require.Contains(t, string(fields), `"field":"approved"`)
		require.Contains(t, string(fields), `"field":"extra"`)
		require.Equal(t, "PAUSED", statusOf(t, admin, wf), "refused answers change nothing")

		got, e := respond(approver, t, inq.ID, map[string]any{"approved": true, "reason": "tested"})
		require.Nil(t, e)
		require.Equal(t, "RESPONDED", got.Status)
		require.Equal(t, "approver", *got.RespondedBy)
		require.Equal(t, map[string]any{"approved": true, "reason": "tested"}, got.Response)

		_, e = respond(approver, t, inq.ID, map[string]any{"approved": false})
		require.NotNil(t, e)
		require.Equal(t, "CONFLICT", e.Code(), e.Message)

		follow(t, s, wf)
		st = readWorkflow(t, admin, wf)
		require.Equal(t, "SUCCEEDED", st.Status, "%+v %s", st, st.Result)
		require.JSONEq(t, `{"output": {"approved": true}}`, string(st.Result))
		require.Equal(t, true, st.Workflow.Context["approved"])
		var asked struct {
			Node struct {
				Status string
				Result map[string]any
			}
		}
		admin.Must(t, `query($id: ID!) { node(id: $id) { ... on Execution { status result } } }`, map[string]any{"id": inq.ExecutionID}, &asked)
		require.Equal(t, "SUCCEEDED", asked.Node.Status)
		require.Equal(t, map[string]any{"approved": true, "reason": "tested"}, asked.Node.Result["response"])

		var seen []string
		for data := range updates {
			var u struct{ InquiryUpdated struct{ ID, Status string } }
			require.NoError(t, json.Unmarshal(data, &u), string(data))
			seen = append(seen, u.InquiryUpdated.Status)
		}
		require.Equal(t, "RESPONDED", seen[len(seen)-1], "%v", seen)

		// The rule routed the inquiry's event.
		want := "Inquiry " + inq.ID + " is awaiting an approval"
		eventually(t, execDeadline, "the rule's echo of the inquiry", func() bool {
			var out struct {
				Executions struct {
					Edges []struct{ Node struct{ Stdout string } }
				}
			}
			admin.Must(t, `{ executions(where: {actionRef: "core.echo"}) { edges { node { stdout } } } }`, nil, &out)
			for _, e := range out.Executions.Edges {
				if strings.TrimSpace(e.Node.Stdout) == want {
					return true
				}
			}
			return false
		})
	})
}

// TestInquiryNested: an inquiry in a nested workflow pauses both
// workflows; the answer resumes both and the outer one succeeds.
func TestInquiryNested(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		admin := client(s, s.token)
		admin.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`,
			map[string]any{"s": writeTree(t, askPack())}, nil)
		approver := client(s, newToken(t, admin, "approver", "VIEWER", nil))
		gate := filepath.Join(t.TempDir(), "gate")
		require.NoError(t, os.WriteFile(gate, nil, 0o600))
		outer := execute(t, s, "asks.outer", map[string]any{"gate": gate})
		var inner string
		eventually(t, execDeadline, "the inner workflow", func() bool {
			st := readWorkflow(t, admin, outer)
			var out struct {
				Node struct {
					Workflow struct {
						Tasks []struct{ Execution *struct{ ID string } }
					}
				}
			}
			admin.Must(t, `query($id: ID!) { node(id: $id) { ... on Execution { workflow { tasks { execution { id } } } } } }`,
				map[string]any{"id": outer}, &out)
			if len(out.Node.Workflow.Tasks) == 0 || out.Node.Workflow.Tasks[0].Execution == nil {
				return false
			}
			inner = out.Node.Workflow.Tasks[0].Execution.ID
			return st.Status == "RUNNING" || st.Status == "PAUSED"
		})
		inq := pendingInquiry(t, admin, inner)
		eventually(t, execDeadline, "both workflows to pause", func() bool {
			return statusOf(t, admin, inner) == "PAUSED" && statusOf(t, admin, outer) == "PAUSED"
		})
		_, e := respond(approver, t, inq.ID, map[string]any{"approved": true})
		require.Nil(t, e)
		follow(t, s, outer)
		st := readWorkflow(t, admin, outer)
		require.Equal(t, "SUCCEEDED", st.Status, "%+v %s", st, st.Result)
		require.JSONEq(t, `{"output": {"approved": true}}`, string(st.Result))
	})
}

// TestInquiryTimeoutAndCancel: an inquiry whose ttl runs out ends
// TIMEOUT, its execution TIMEOUT, and the workflow takes the task's
// failure path; a canceled one ends CANCELED with its execution and its
// workflow; answers after either are CONFLICT. core.ask outside a
// workflow waits PENDING and succeeds with the response.
func TestInquiryTimeoutAndCancel(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		admin := client(s, s.token)
		admin.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`,
			map[string]any{"s": writeTree(t, askPack())}, nil)
		gate := filepath.Join(t.TempDir(), "gate")
		require.NoError(t, os.WriteFile(gate, nil, 0o600))

		// ttl 0.02 minutes: 1.2 s.
		wf := execute(t, s, "asks.approve", map[string]any{"gate": gate, "ttl": 0.02})
		inq := pendingInquiry(t, admin, wf)
		follow(t, s, wf)
		st := readWorkflow(t, admin, wf)
		require.Equal(t, "FAILED", st.Status, "%+v", st)
		require.Contains(t, st.Workflow.Tasks, struct{ Name, Status string }{"get_approval", "TIMEOUT"})
		require.Contains(t, st.Workflow.Tasks, struct{ Name, Status string }{"stop", "SUCCEEDED"})
		var got struct{ Inquiry inquiryView }
		admin.Must(t, `query($id: ID!) { inquiry(id: $id) { `+inquiryFields+` } }`, map[string]any{"id": inq.ID}, &got)
		require.Equal(t, "TIMEOUT", got.Inquiry.Status)
		_, e := respond(admin, t, inq.ID, map[string]any{"approved": true})
		require.NotNil(t, e)
		require.Equal(t, "CONFLICT", e.Code(), e.Message)

		wf2 := execute(t, s, "asks.approve", map[string]any{"gate": gate})
		inq2 := pendingInquiry(t, admin, wf2)
		var canceled struct{ CancelInquiry inquiryView }
		admin.Must(t, `mutation($id: ID!) { cancelInquiry(id: $id) { `+inquiryFields+` } }`, map[string]any{"id": inq2.ID}, &canceled)
		require.Equal(t, "CANCELED", canceled.CancelInquiry.Status)
		follow(t, s, wf2)
		require.Equal(t, "CANCELED", statusOf(t, admin, wf2))
		require.Equal(t, "CANCELED", statusOf(t, admin, inq2.ExecutionID))
		_, e = respond(admin, t, inq2.ID, map[string]any{"approved": true})
		require.NotNil(t, e)
		require.Equal(t, "CONFLICT", e.Code(), e.Message)

		// A question that cannot be asked fails at once with the cause.
		bad := runToEnd(t, s, "core.ask", map[string]any{"ttl": -1})
		require.Equal(t, "FAILED", bad.Status, "%+v", bad)
		require.Contains(t, bad.Error, "ttl: must be a positive number of minutes")

		// Outside a workflow; StackStorm's default schema.
		id := execute(t, s, "core.ask", nil)
		var plain inquiryView
		eventually(t, execDeadline, "the plain inquiry", func() bool {
			var out struct {
				Inquiries struct{ Edges []struct{ Node inquiryView } }
			}
			admin.Must(t, `query($e: ID!) { inquiries(where: {executionID: $e}) { edges { node { `+inquiryFields+` } } } }`,
				map[string]any{"e": id}, &out)
			if len(out.Inquiries.Edges) == 0 {
				return false
			}
			plain = out.Inquiries.Edges[0].Node
			return true
		})
		require.Nil(t, plain.WorkflowID)
		require.Equal(t, "PENDING", statusOf(t, admin, id))
		_, e = respond(admin, t, plain.ID, map[string]any{})
		require.NotNil(t, e)
		require.Equal(t, "BAD_USER_INPUT", e.Code(), "continue is required")
		_, e = respond(admin, t, plain.ID, map[string]any{"continue": true})
		require.Nil(t, e)
		end := follow(t, s, id)
		last := end[len(end)-1]
		require.Equal(t, "SUCCEEDED", last.Status)
		require.JSONEq(t, `{"continue": true}`, string(mustField(t, last.Result, "response")))
	})
}

func mustField(t *testing.T, raw json.RawMessage, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m), string(raw))
	return m[key]
}

// TestInquiryRacingAnswers: two answers at once, on PostgreSQL through two
// server nodes, on SQLite through one: exactly one wins, the other is
// CONFLICT, and the workflow runs on once.
func TestInquiryRacingAnswers(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		url := dbtest.URL(t, backend)
		s := startServer(t, authEnv(), "-database-url", url)
		s.token = testAdminToken
		admin := client(s, testAdminToken)
		// On PostgreSQL the second answer goes through another node.
		s2 := s
		if backend == "postgres" {
			s2 = startServer(t, authEnv(), "-database-url", url)
		}
		admin.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`,
			map[string]any{"s": writeTree(t, askPack())}, nil)
		a := client(s, newToken(t, admin, "approver", "VIEWER", nil))
		b := client(s2, newToken(t, admin, "approver", "VIEWER", nil))
		gate := filepath.Join(t.TempDir(), "gate")
		require.NoError(t, os.WriteFile(gate, nil, 0o600))
		for round := range 3 {
			wf := execute(t, s, "asks.approve", map[string]any{"gate": gate})
			inq := pendingInquiry(t, admin, wf)
			var wg sync.WaitGroup
			codes := make([]string, 2)
			for i, c := range []*gqltest.Client{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, e := respond(c, t, inq.ID, map[string]any{"approved": i == 0})
					if e == nil {
						codes[i] = "OK"
					} else {
						codes[i] = e.Code()
					}
				}()
			}
			wg.Wait()
			require.ElementsMatch(t, []string{"OK", "CONFLICT"}, codes, "round %d", round)
			follow(t, s, wf)
			st := readWorkflow(t, admin, wf)
			require.Equal(t, "SUCCEEDED", st.Status)
			winner := 0
			if codes[1] == "OK" {
				winner = 1
			}
			require.Equal(t, winner == 0, st.Workflow.Context["approved"], "the winner's answer is the one taken")
			finishes := 0
			for _, task := range st.Workflow.Tasks {
				if task.Name == "finish" {
					finishes++
				}
			}
			require.Equal(t, 1, finishes)
		}
	})
}

// TestInquiryPackLimitedToken: a token limited to a pack reads and answers
// the inquiries of its pack only, and an answer's fields named like refs
// (action) are data, not refs the token must be allowed.
func TestInquiryPackLimitedToken(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, authEnv(), "-database-url", dbtest.URL(t, backend))
		s.token = testAdminToken
		admin := client(s, testAdminToken)
		inCore := client(s, newToken(t, admin, "core-ops", "OPERATOR", []string{"core"}))
		elsewhere := client(s, newToken(t, admin, "other-ops", "OPERATOR", []string{"asks"}))
		id := execute(t, s, "core.ask", map[string]any{"schema": map[string]any{"type": "object",
			"properties": map[string]any{"action": map[string]any{"type": "string", "required": true}}}})
		var inq string
		eventually(t, execDeadline, "the inquiry", func() bool {
			var out struct {
				Inquiries struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
			inCore.Must(t, `query($e: ID!) { inquiries(where: {executionID: $e}) { edges { node { id } } } }`, map[string]any{"e": id}, &out)
			if len(out.Inquiries.Edges) == 0 {
				return false
			}
			inq = out.Inquiries.Edges[0].Node.ID
			return true
		})
		var none struct {
			Inquiries struct{ Edges []any }
		}
		elsewhere.Must(t, `{ inquiries { edges { node { id } } } }`, nil, &none)
		require.Empty(t, none.Inquiries.Edges, "another pack's token sees no inquiry")
		_, e := respond(elsewhere, t, inq, map[string]any{"action": "asks.deploy"})
		require.NotNil(t, e)
		require.Equal(t, "NOT_FOUND", e.Code(), e.Message)
		got, e := respond(inCore, t, inq, map[string]any{"action": "asks.deploy"})
		require.Nil(t, e)
		require.Equal(t, "RESPONDED", got.Status)
		require.Equal(t, map[string]any{"action": "asks.deploy"}, got.Response)
	})
}
