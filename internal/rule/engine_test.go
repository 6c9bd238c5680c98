package rule_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/ent/enforcement"
	entexec "github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/execution"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/queue"
	"github.com/attune-io/attune/internal/rule"
	"github.com/attune-io/attune/internal/store"
)

// bundle is an engine on a fresh database with pack "tp", whose config has
// greeting "hi", and action tp.act taking message (string), count
// (integer), flag (boolean) and obj (object). Its queue only inserts:
// tests call Evaluate themselves, as the job would.
type bundle struct {
	db     *store.DB
	engine *rule.Engine
	pack   *ent.Pack
	seq    atomic.Int64
}

func setup(t *testing.T, backend string) *bundle {
	t.Helper()
	ctx := context.Background()
	url := dbtest.URL(t, backend)
	db, err := store.Open(ctx, url, "")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.Migrate(ctx))
	require.NoError(t, queue.Migrate(ctx, db))
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	bus, err := notify.New(ctx, db, url, log)
	require.NoError(t, err)
	t.Cleanup(bus.Close)
	q, err := queue.New(ctx, db, queue.Config{DatabaseURL: url, Logger: log}, nil)
	require.NoError(t, err)
	t.Cleanup(q.Close)
	svc := execution.NewService(db, q, bus, execution.Options{Logger: log})
	b := &bundle{db: db, engine: rule.NewEngine(db, q, svc, bus, rule.Options{Logger: log})}
	b.pack, err = db.Ent.Pack.Create().SetRef("tp").SetConfig(map[string]any{"greeting": "hi"}).Save(ctx)
	require.NoError(t, err)
	_, err = db.Ent.Action.Create().SetRef("tp.act").SetPackRef("tp").SetPack(b.pack).
		SetRunnerType(action.RunnerTypeSHELL).SetEntryPoint("act.sh").
		SetParameters(map[string]any{
			"message": map[string]any{"type": "string"},
			"count":   map[string]any{"type": "integer"},
			"flag":    map[string]any{"type": "boolean"},
			"obj":     map[string]any{"type": "object"},
		}).Save(ctx)
	require.NoError(t, err)
	return b
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// rule stores a fresh trigger and an enabled rule on it running tp.act.
func (b *bundle) rule(t *testing.T, criteria, params map[string]any) *ent.Rule {
	t.Helper()
	n := b.seq.Add(1)
	tr, err := b.db.Ent.Trigger.Create().SetRef(fmt.Sprintf("tp.t%d", n)).SetPackRef("tp").SetPack(b.pack).Save(t.Context())
	require.NoError(t, err)
	r, err := b.engine.CreateRule(t.Context(), rule.Input{
		Ref: fmt.Sprintf("tp.r%d", n), Pack: "tp", Trigger: tr.Ref, Action: "tp.act",
		Criteria: criteria, ActionParams: params,
	})
	require.NoError(t, err)
	return r
}

// fire emits an event of r's trigger and evaluates it as the job would.
func (b *bundle) fire(t *testing.T, r *ent.Rule, payload map[string]any) *ent.Event {
	t.Helper()
	ev, err := b.engine.Emit(t.Context(), rule.Emission{Trigger: r.TriggerRef, Payload: payload, Source: rule.SourceAPI})
	require.NoError(t, err)
	require.NoError(t, b.engine.Evaluate(t.Context(), ev.ID))
	return ev
}

// enforcements of r, with their executions.
func (b *bundle) enforcements(t *testing.T, r *ent.Rule) []*ent.Enforcement {
	t.Helper()
	out, err := b.db.Ent.Enforcement.Query().Where(enforcement.RuleRef(r.Ref)).WithExecutions().All(t.Context())
	require.NoError(t, err)
	return out
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		criteria map[string]any
		params   map[string]any
		payload  map[string]any
		// status "" means no match: no enforcement at all.
		status     enforcement.Status
		wantParams map[string]any
		reason     string
	}{
		{
			name:     "equals matches and renders",
			criteria: map[string]any{"trigger.sev": map[string]any{"type": "equals", "pattern": "high"}},
			params:   map[string]any{"message": "{{ trigger.msg }}"},
			payload:  map[string]any{"sev": "high", "msg": "disk full"},
			status:   enforcement.StatusPROCESSED, wantParams: map[string]any{"message": "disk full"},
		},
		{
			name:     "no match, no enforcement",
			criteria: map[string]any{"trigger.sev": map[string]any{"type": "equals", "pattern": "high"}},
			params:   map[string]any{"message": "x"},
			payload:  map[string]any{"sev": "low"},
		},
		{
			name: "every entry must hold",
			criteria: map[string]any{
				"event.payload.n": map[string]any{"type": "gt", "pattern": 3},
				"trigger.tags":    map[string]any{"type": "contains", "pattern": "prod"},
			},
			params:  map[string]any{"message": "x"},
			payload: map[string]any{"n": 5, "tags": []any{"dev"}},
		},
		{
			name: "search any over a list",
			criteria: map[string]any{"trigger.items": map[string]any{"type": "search", "condition": "any", "pattern": map[string]any{
				"item.name": map[string]any{"type": "iequals", "pattern": "DB"},
			}}},
			params:  map[string]any{"message": "{{ trigger.items.1.name }}"},
			payload: map[string]any{"items": []any{map[string]any{"name": "web"}, map[string]any{"name": "db"}}},
			status:  enforcement.StatusPROCESSED, wantParams: map[string]any{"message": "db"},
		},
		{
			name:    "a template alone keeps the JSON type; mixed text is a string",
			params:  map[string]any{"count": "{{ trigger.n }}", "flag": "{{ trigger.ok }}", "obj": "{{ trigger.obj }}", "message": "n={{ trigger.n }} {{ trigger.obj }}"},
			payload: map[string]any{"n": 5, "ok": true, "obj": map[string]any{"a": 1}},
			status:  enforcement.StatusPROCESSED,
			wantParams: map[string]any{
				"count": float64(5), "flag": true, "obj": map[string]any{"a": float64(1)}, "message": `n=5 {"a":1}`,
			},
		},
		{
			name:    "event, rule and pack namespaces; filters",
			params:  map[string]any{"message": "{{ pack.config.greeting | upper }} {{ event.payload.who }} {{ trigger.nope | default('anon') }}"},
			payload: map[string]any{"who": "bob"},
			status:  enforcement.StatusPROCESSED, wantParams: map[string]any{"message": "HI bob anon"},
		},
		{
			name:    "a missing path fails the enforcement naming it",
			params:  map[string]any{"message": "{{ trigger.nope }}"},
			payload: map[string]any{},
			status:  enforcement.StatusFAILED, reason: "trigger.nope",
		},
		{
			name:    "parameters the action refuses fail the enforcement",
			params:  map[string]any{"count": "{{ trigger.msg }}"},
			payload: map[string]any{"msg": "not a number"},
			status:  enforcement.StatusFAILED, reason: "count",
		},
		{
			name:     "a timestamp that is not one fails the enforcement",
			criteria: map[string]any{"trigger.at": map[string]any{"type": "timediff_lt", "pattern": 60}},
			params:   map[string]any{"message": "x"},
			payload:  map[string]any{"at": "yesterday-ish"},
			status:   enforcement.StatusFAILED, reason: "trigger.at",
		},
	}
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := b.rule(t, tt.criteria, tt.params)
				b.fire(t, r, tt.payload)
				got := b.enforcements(t, r)
				if tt.status == "" {
					require.Empty(t, got)
					return
				}
				require.Len(t, got, 1)
				require.Equal(t, tt.status, got[0].Status, got[0].Reason)
				require.Contains(t, got[0].Reason, tt.reason)
				if tt.status != enforcement.StatusPROCESSED {
					require.Empty(t, got[0].Edges.Executions)
					return
				}
				require.Len(t, got[0].Edges.Executions, 1)
				x := got[0].Edges.Executions[0]
				require.Equal(t, "tp.act", x.ActionRef)
				require.Equal(t, tt.wantParams, map[string]any(x.Parameters))
			})
		}
	})
}

func TestEventIDAndRuleRefInTemplates(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		r := b.rule(t, nil, map[string]any{"message": "{{ rule.ref }}#{{ event.id }}", "count": "{{ event.id }}"})
		ev := b.fire(t, r, nil)
		got := b.enforcements(t, r)
		require.Len(t, got, 1)
		x := got[0].Edges.Executions[0]
		require.Equal(t, fmt.Sprintf("%s#%d", r.Ref, ev.ID), x.Parameters["message"])
		require.InDelta(t, ev.ID, x.Parameters["count"], 0)
	})
}

func TestDeletedActionOrTriggerSkips(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		ctx := t.Context()

		// The action goes: the rule keeps its ref, its edge becomes NULL.
		r := b.rule(t, nil, map[string]any{"message": "x"})
		_, err := b.db.Ent.Action.Create().SetRef("tp.doomed").SetPackRef("tp").SetPack(b.pack).
			SetRunnerType(action.RunnerTypeSHELL).SetEntryPoint("x.sh").Save(ctx)
		require.NoError(t, err)
		r, err = b.engine.UpdateRule(ctx, r.Ref, rule.Patch{Action: ptr("tp.doomed")})
		require.NoError(t, err)
		_, err = b.db.Ent.Action.Delete().Where(action.Ref("tp.doomed")).Exec(ctx)
		require.NoError(t, err)
		b.fire(t, r, nil)
		got := b.enforcements(t, r)
		require.Len(t, got, 1)
		require.Equal(t, enforcement.StatusSKIPPED, got[0].Status)
		require.Equal(t, "action tp.doomed is not installed", got[0].Reason)
		require.Empty(t, got[0].Edges.Executions)

		// The trigger goes after its event was stored.
		r2 := b.rule(t, nil, map[string]any{"message": "x"})
		ev, err := b.engine.Emit(ctx, rule.Emission{Trigger: r2.TriggerRef, Source: rule.SourceAPI})
		require.NoError(t, err)
		require.NoError(t, b.db.Ent.Trigger.DeleteOneID(*r2.TriggerID).Exec(ctx))
		require.NoError(t, b.engine.Evaluate(ctx, ev.ID))
		got = b.enforcements(t, r2)
		require.Len(t, got, 1)
		require.Equal(t, enforcement.StatusSKIPPED, got[0].Status)
		require.Equal(t, fmt.Sprintf("trigger %s is not installed", r2.TriggerRef), got[0].Reason)
		require.Empty(t, got[0].Edges.Executions)

		// A disabled rule is not evaluated at all.
		r3 := b.rule(t, nil, map[string]any{"message": "x"})
		_, err = b.engine.SetRuleEnabled(ctx, r3.Ref, false)
		require.NoError(t, err)
		b.fire(t, r3, nil)
		require.Empty(t, b.enforcements(t, r3))
	})
}

func TestRedeliveredEvaluationDoesNotDuplicate(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		r := b.rule(t, nil, map[string]any{"message": "once"})
		ev := b.fire(t, r, nil)
		// Redelivery, sequential and concurrent (a rescued job racing the
		// original).
		require.NoError(t, b.engine.Evaluate(t.Context(), ev.ID))
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() { errs <- b.engine.Evaluate(t.Context(), ev.ID) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Len(t, b.enforcements(t, r), 1)
		n, err := b.db.Ent.Execution.Query().Where(entexec.ActionRef("tp.act")).Count(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
}

func TestCreateRuleRefusesEveryProblem(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		_, err := b.engine.CreateRule(t.Context(), rule.Input{
			Ref: "tp.bad", Trigger: "tp.nope", Action: "tp.none",
			Criteria:     map[string]any{"trigger.x": map[string]any{"type": "bogus"}},
			ActionParams: map[string]any{"message": "{{ trigger. }}"},
		})
		ae, ok := apperr.As(err)
		require.True(t, ok, "%v", err)
		require.Equal(t, apperr.BadUserInput, ae.Code)
		var fields []string
		for _, f := range ae.Details["fields"].([]map[string]string) {
			fields = append(fields, f["field"])
		}
		// tp is a pack: an API rule in its namespace must name it.
		require.ElementsMatch(t, []string{"ref", "trigger", "action", "criteria.trigger.x", "actionParams.message"}, fields)

		r := b.rule(t, nil, map[string]any{"message": "x"})
		_, err = b.engine.CreateRule(t.Context(), rule.Input{Ref: r.Ref, Pack: "tp", Trigger: r.TriggerRef, Action: "tp.act"})
		require.Equal(t, apperr.Conflict, apperr.CodeOf(err))

		free, err := b.engine.CreateRule(t.Context(), rule.Input{Ref: "ops.free", Trigger: r.TriggerRef, Action: "tp.act"})
		require.NoError(t, err)
		require.Nil(t, free.PackID)
		require.Empty(t, free.PackRef)
	})
}

func ptr[T any](v T) *T { return &v }
