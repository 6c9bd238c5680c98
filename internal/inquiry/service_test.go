package inquiry

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent"
	entexec "github.com/attune-io/attune/ent/execution"
	entinq "github.com/attune-io/attune/ent/inquiry"
	"github.com/attune-io/attune/ent/privacy"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/auth"
	"github.com/attune-io/attune/internal/dbtest"
	xexec "github.com/attune-io/attune/internal/execution"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/store"
)

func TestMayAnswer(t *testing.T) {
	t.Parallel()
	var (
		admin    = &auth.Principal{Name: "root", Role: auth.Admin}
		editor   = &auth.Principal{Name: "ed", Role: auth.Editor}
		operator = &auth.Principal{Name: "op", Role: auth.Operator}
		viewer   = &auth.Principal{Name: "alice", Role: auth.Viewer}
		metrics  = &auth.Principal{Name: "scraper", Role: auth.Metrics}
	)
	inquiry := func(users, roles []string) *ent.Inquiry {
		return &ent.Inquiry{ID: 7, AssignedUsers: users, AssignedRoles: roles}
	}
	for _, tc := range []struct {
		name    string
		inq     *ent.Inquiry
		allowed []*auth.Principal
		refused []*auth.Principal
		message string // in every refusal: who may answer
	}{
		{
			name:    "unassigned: OPERATOR and above",
			inq:     inquiry(nil, nil),
			allowed: []*auth.Principal{auth.System, admin, editor, operator},
			refused: []*auth.Principal{viewer},
			message: "answering inquiry 7 needs the OPERATOR role; this token is VIEWER",
		},
		{
			name:    "unassigned: never METRICS",
			inq:     inquiry(nil, nil),
			refused: []*auth.Principal{metrics},
			message: "a METRICS token may not answer inquiry 7",
		},
		{
			name:    "empty lists are unassigned",
			inq:     inquiry([]string{}, []string{}),
			allowed: []*auth.Principal{operator},
			refused: []*auth.Principal{viewer},
			message: "needs the OPERATOR role",
		},
		{
			name:    "users only: the names, whatever their role",
			inq:     inquiry([]string{"alice", "ed"}, nil),
			allowed: []*auth.Principal{auth.System, viewer, editor},
			refused: []*auth.Principal{admin, operator},
			message: "inquiry 7 is assigned to users alice, ed; this token is",
		},
		{
			name:    "roles only: the role or above",
			inq:     inquiry(nil, []string{"OPERATOR"}),
			allowed: []*auth.Principal{auth.System, admin, editor, operator},
			refused: []*auth.Principal{viewer},
			message: "inquiry 7 is assigned to roles OPERATOR; this token is alice (VIEWER)",
		},
		{
			name:    "roles stored in lower case",
			inq:     inquiry(nil, []string{"editor"}),
			allowed: []*auth.Principal{admin, editor},
			refused: []*auth.Principal{operator, viewer},
			message: "assigned to roles editor",
		},
		{
			name:    "any of several roles",
			inq:     inquiry(nil, []string{"ADMIN", "VIEWER"}),
			allowed: []*auth.Principal{admin, editor, operator, viewer},
		},
		{
			name:    "ADMIN only",
			inq:     inquiry(nil, []string{"ADMIN"}),
			allowed: []*auth.Principal{admin},
			refused: []*auth.Principal{editor, operator, viewer},
			message: "assigned to roles ADMIN",
		},
		{
			name:    "both: the name and the role (StackStorm's rule)",
			inq:     inquiry([]string{"alice", "op"}, []string{"OPERATOR"}),
			allowed: []*auth.Principal{auth.System, operator},
			refused: []*auth.Principal{viewer, admin, editor},
			message: "inquiry 7 is assigned to users alice, op and roles OPERATOR; this token is",
		},
		{
			name:    "an unknown role matches no token",
			inq:     inquiry(nil, []string{"OPS-TEAM"}),
			allowed: []*auth.Principal{auth.System},
			refused: []*auth.Principal{admin, editor, operator, viewer},
			message: "assigned to roles OPS-TEAM",
		},
		{
			name:    "an unknown role beside a known one",
			inq:     inquiry(nil, []string{"OPS-TEAM", "EDITOR"}),
			allowed: []*auth.Principal{admin, editor},
			refused: []*auth.Principal{operator},
			message: "assigned to roles OPS-TEAM, EDITOR",
		},
		{
			name:    "the METRICS role is no answering role",
			inq:     inquiry(nil, []string{"METRICS"}),
			allowed: []*auth.Principal{auth.System},
			refused: []*auth.Principal{admin, operator},
			message: "assigned to roles METRICS",
		},
		{
			name:    "a METRICS token named in users",
			inq:     inquiry([]string{"scraper"}, nil),
			refused: []*auth.Principal{metrics},
			message: "a METRICS token may not answer inquiry 7",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, p := range tc.allowed {
				require.NoError(t, mayAnswer(p, tc.inq), "%s (%s)", p.Name, p.Role)
			}
			for _, p := range tc.refused {
				err := mayAnswer(p, tc.inq)
				e, ok := apperr.As(err)
				require.True(t, ok, "%s (%s): %v", p.Name, p.Role, err)
				require.Equal(t, apperr.Forbidden, e.Code, "%s (%s)", p.Name, p.Role)
				require.Contains(t, e.Message, tc.message)
				if len(tc.inq.AssignedUsers)+len(tc.inq.AssignedRoles) > 0 && p.Role.AtLeast(auth.Viewer) {
					require.Contains(t, e.Message, p.Name)
					require.Contains(t, e.Message, string(p.Role))
				}
			}
		})
	}
}

// TestMayAnswerWithoutARole: a METRICS or role-less token answers nothing,
// not even an inquiry naming it.
func TestMayAnswerWithoutARole(t *testing.T) {
	t.Parallel()
	for _, p := range []*auth.Principal{{Name: "scraper", Role: auth.Metrics}, {Name: "nobody"}, {Name: "x", Role: "ROOT"}} {
		for _, inq := range []*ent.Inquiry{
			{ID: 3},
			{ID: 3, AssignedUsers: []string{p.Name}},
			{ID: 3, AssignedRoles: []string{"METRICS"}},
			{ID: 3, AssignedUsers: []string{p.Name}, AssignedRoles: []string{string(p.Role)}},
		} {
			e, ok := apperr.As(mayAnswer(p, inq))
			require.True(t, ok, "%s (%s) on %+v", p.Name, p.Role, inq)
			require.Equal(t, apperr.Forbidden, e.Code)
			require.Contains(t, e.Message, "may not answer inquiry 3")
		}
	}
}

// workflows records what inquiries ask of the workflow engine.
type workflows struct {
	mu      sync.Mutex
	woken   []int
	resumed []int
}

var _ Workflows = (*workflows)(nil)

func (w *workflows) WakeTx(_ context.Context, _ *store.Tx, id int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.woken = append(w.woken, id)
	return nil
}

func (w *workflows) ResumeTx(_ context.Context, _ *store.Tx, id int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.resumed = append(w.resumed, id)
	return nil
}

// tree is a workflow that asked: root (PAUSED) runs sub (a workflow) and
// sibling; sub runs ask (PENDING, with inquiry inq) and grandchild.
// other is the root of another workflow, with its task otherTask.
type tree struct {
	svc                               *Service
	db                                *store.DB
	wf                                *workflows
	root, sub, sibling, ask, grandkid int
	other, otherTask, standalone, inq int
}

func newTree(t *testing.T, backend string) *tree {
	t.Helper()
	ctx := t.Context()
	url := dbtest.URL(t, backend)
	db, err := store.Open(ctx, url, "")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.Migrate(ctx))
	log := slog.New(slog.DiscardHandler)
	bus, err := notify.New(ctx, db, url, log)
	require.NoError(t, err)
	t.Cleanup(bus.Close)
	wf := &workflows{}
	exec := xexec.NewService(db, nil, bus, xexec.Options{Logger: log})
	tr := &tree{svc: New(db, exec, wf, nil, nil, bus, nil, log), db: db, wf: wf}

	run := func(ref string, status entexec.Status, parent *int, task string) int {
		return db.Ent.Execution.Create().SetActionRef(ref).SetPackRef("tp").SetStatus(status).
			SetNillableParentID(parent).SetTaskName(task).SaveX(ctx).ID
	}
	tr.root = run("tp.deploy", entexec.StatusPAUSED, nil, "")
	tr.sub = run("tp.approve", entexec.StatusPAUSED, &tr.root, "approval")
	tr.sibling = run("core.local", entexec.StatusRUNNING, &tr.root, "build")
	tr.ask = run("core.ask", entexec.StatusPENDING, &tr.sub, "ask")
	tr.grandkid = run("core.local", entexec.StatusSUCCEEDED, &tr.sub, "notify")
	tr.other = run("tp.other", entexec.StatusRUNNING, nil, "")
	tr.otherTask = run("tp.python", entexec.StatusRUNNING, &tr.other, "check")
	tr.standalone = run("tp.python", entexec.StatusRUNNING, nil, "")
	tr.inq = db.Ent.Inquiry.Create().SetExecutionID(tr.ask).SetWorkflowID(tr.sub).SetTaskName("ask").
		SetPackRef("tp").SetResponseSchema(defaultSchema()).SetTimeoutAt(time.Now().Add(time.Hour)).
		SaveX(ctx).ID
	return tr
}

// runToken is the principal of the token of one run of execution id.
func runToken(id int) *auth.Principal {
	return &auth.Principal{TokenID: 100 + id, Name: "st2-action", Role: auth.Operator, Packs: []string{"tp"}, ExecutionID: id}
}

func (tr *tree) inquiry(t *testing.T) *ent.Inquiry {
	t.Helper()
	return tr.db.Ent.Inquiry.GetX(t.Context(), tr.inq)
}

func requireCode(t *testing.T, code apperr.Code, err error) *apperr.Error {
	t.Helper()
	e, ok := apperr.As(err)
	require.True(t, ok, "want %s, got %v", code, err)
	require.Equal(t, code, e.Code, e.Message)
	return e
}

// TestNotAsker: the token of a run in the asking workflow's tree (its
// root, a sibling task, the asking execution itself, a task of the
// sub-workflow) is FORBIDDEN; a run of another tree, a standalone run or a
// token of no run passes.
func TestNotAsker(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		tr := newTree(t, backend)
		ctx := auth.SystemContext(t.Context())
		inq := tr.inquiry(t)
		for _, id := range []int{tr.root, tr.sub, tr.sibling, tr.ask, tr.grandkid} {
			e := requireCode(t, apperr.Forbidden, tr.svc.notAsker(ctx, runToken(id), inq))
			require.Contains(t, e.Message, "belongs to the workflow that asked")
		}
		for _, id := range []int{tr.other, tr.otherTask, tr.standalone} {
			require.NoError(t, tr.svc.notAsker(ctx, runToken(id), inq), "execution %d", id)
		}
		require.NoError(t, tr.svc.notAsker(ctx, &auth.Principal{Name: "op", Role: auth.Operator}, inq))
	})
}

// TestRespondRunToken: a run token never answers. Read as itself, it
// cannot even see the inquiry (the read policy refuses it, which the
// GraphQL layer presents as FORBIDDEN); read with the server's privileges,
// a run of the asking workflow is still FORBIDDEN, while one of another
// workflow gets through to answer.
func TestRespondRunToken(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		tr := newTree(t, backend)
		answer := map[string]any{"continue": true}

		_, err := tr.svc.Respond(auth.WithPrincipal(t.Context(), runToken(tr.other)), tr.inq, answer)
		require.ErrorIs(t, err, privacy.Deny)

		for _, id := range []int{tr.sibling, tr.root, tr.ask, tr.grandkid} {
			ctx := auth.SystemContext(auth.WithPrincipal(t.Context(), runToken(id)))
			_, err := tr.svc.Respond(ctx, tr.inq, answer)
			e := requireCode(t, apperr.Forbidden, err)
			require.Contains(t, e.Message, "may not answer inquiry")
		}
		inq := tr.inquiry(t)
		require.Equal(t, entinq.StatusPENDING, inq.Status)
		require.Empty(t, tr.wf.resumed)

		ctx := auth.SystemContext(auth.WithPrincipal(t.Context(), runToken(tr.otherTask)))
		got, err := tr.svc.Respond(ctx, tr.inq, answer)
		require.NoError(t, err)
		require.Equal(t, entinq.StatusRESPONDED, got.Status)
		require.Equal(t, answer, got.Response)
		require.Equal(t, "st2-action", *got.RespondedBy)
		require.NotNil(t, got.RespondedAt)

		e := tr.db.Ent.Execution.GetX(t.Context(), tr.ask)
		require.Equal(t, entexec.StatusSUCCEEDED, e.Status)
		var result map[string]any
		require.NoError(t, json.Unmarshal(e.Result, &result))
		require.Equal(t, answer, result["response"])
		// The topmost paused workflow above it resumes.
		require.Equal(t, []int{tr.root}, tr.wf.resumed)

		// A second answer is CONFLICT, naming who answered.
		_, err = tr.svc.Respond(ctx, tr.inq, answer)
		e2 := requireCode(t, apperr.Conflict, err)
		require.Contains(t, e2.Message, "already answered by st2-action")
	})
}

// TestRespondChecksInOrder: assignment before the schema, and a refused
// answer changes nothing.
func TestRespondChecksInOrder(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		tr := newTree(t, backend)
		tr.db.Ent.Inquiry.UpdateOneID(tr.inq).SetAssignedUsers([]string{"alice"}).ExecX(t.Context())
		as := func(p *auth.Principal) context.Context { return auth.WithPrincipal(t.Context(), p) }

		_, err := tr.svc.Respond(as(&auth.Principal{Name: "op", Role: auth.Operator}), tr.inq, map[string]any{"bogus": 1.0})
		requireCode(t, apperr.Forbidden, err)

		_, err = tr.svc.Respond(as(&auth.Principal{Name: "alice", Role: auth.Viewer}), tr.inq, map[string]any{"bogus": 1.0})
		e := requireCode(t, apperr.BadUserInput, err)
		require.Equal(t, []map[string]string{
			{"field": "bogus", "message": "is not a known parameter"},
			{"field": "continue", "message": "is required"},
		}, e.Details["fields"])
		require.Equal(t, entinq.StatusPENDING, tr.inquiry(t).Status)

		got, err := tr.svc.Respond(as(&auth.Principal{Name: "alice", Role: auth.Viewer}), tr.ask, map[string]any{"continue": false})
		require.NoError(t, err)
		require.Equal(t, "alice", *got.RespondedBy)
		require.Equal(t, map[string]any{"continue": false}, got.Response)
	})
}

// TestGetByEitherID: an inquiry is named by its id or its asking
// execution's (ids of different types never meet: each type has its own
// range, ent's global unique ids).
func TestGetByEitherID(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		tr := newTree(t, backend)
		for _, id := range []int{tr.inq, tr.ask} {
			got, err := tr.svc.Get(t.Context(), id)
			require.NoError(t, err)
			require.Equal(t, tr.inq, got.ID)
		}
		for _, id := range []int{tr.root, tr.sibling, 0} {
			_, err := tr.svc.Get(t.Context(), id)
			requireCode(t, apperr.NotFound, err)
		}
	})
}

// TestExpireAndCancel: the timeout ends a PENDING inquiry TIMEOUT (its
// execution TIMEOUT, the paused workflow resumed) once; afterwards a
// cancel or an answer is CONFLICT. A cancel ends one CANCELED.
func TestExpireAndCancel(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		tr := newTree(t, backend)
		ctx := t.Context()
		op := auth.WithPrincipal(ctx, &auth.Principal{Name: "op", Role: auth.Operator})

		require.NoError(t, tr.svc.Expire(ctx, tr.inq))
		require.Equal(t, entinq.StatusTIMEOUT, tr.inquiry(t).Status)
		e := tr.db.Ent.Execution.GetX(ctx, tr.ask)
		require.Equal(t, entexec.StatusTIMEOUT, e.Status)
		require.Contains(t, e.Error, "timed out: no response within")
		require.Equal(t, []int{tr.root}, tr.wf.resumed)
		require.NoError(t, tr.svc.Expire(ctx, tr.inq), "a second timeout job is a no-op")
		require.NoError(t, tr.svc.Expire(ctx, 1_000_000), "an inquiry purged with its execution")
		require.Equal(t, []int{tr.root}, tr.wf.resumed)

		_, err := tr.svc.Cancel(op, tr.inq)
		require.Contains(t, requireCode(t, apperr.Conflict, err).Message, "timed out at")
		_, err = tr.svc.Respond(op, tr.ask, map[string]any{"continue": true})
		requireCode(t, apperr.Conflict, err)

		// Another inquiry, outside workflows, canceled.
		asker := tr.db.Ent.Execution.Create().SetActionRef("core.ask").SetPackRef("tp").
			SetStatus(entexec.StatusPENDING).SaveX(ctx).ID
		other := tr.db.Ent.Inquiry.Create().SetExecutionID(asker).SetPackRef("tp").
			SetResponseSchema(defaultSchema()).SetTimeoutAt(time.Now().Add(time.Hour)).SaveX(ctx).ID
		got, err := tr.svc.Cancel(op, asker)
		require.NoError(t, err)
		require.Equal(t, other, got.ID)
		require.Equal(t, entinq.StatusCANCELED, got.Status)
		require.Equal(t, entexec.StatusCANCELED, tr.db.Ent.Execution.GetX(ctx, asker).Status)
		_, err = tr.svc.Cancel(op, other)
		require.Contains(t, requireCode(t, apperr.Conflict, err).Message, "is CANCELED")
		require.NoError(t, tr.svc.Expire(ctx, other))
		require.Equal(t, entinq.StatusCANCELED, tr.db.Ent.Inquiry.GetX(ctx, other).Status)
	})
}
