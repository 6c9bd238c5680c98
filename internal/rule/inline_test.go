package rule_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/ent/enforcement"
	"github.com/attune-io/attune/internal/auth"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/execution"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/queue"
	"github.com/attune-io/attune/internal/rule"
	"github.com/attune-io/attune/internal/store"
)

// workerSetup is setup on a node that works evaluation jobs, whose queue is
// returned unstarted: Emit evaluates by itself there.
func workerSetup(t *testing.T, backend string) (*bundle, *queue.Queue, <-chan int) {
	t.Helper()
	b := setup(t, backend)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	h := &queue.Handlers{Execution: func(context.Context, int) error { return nil }}
	q, err := queue.New(ctx, b.db, queue.Config{DatabaseURL: dbtest.PostgresURL(), Concurrency: 2, Logger: log}, h)
	require.NoError(t, err)
	t.Cleanup(q.Close)
	bus, err := notify.New(ctx, b.db, dbtest.PostgresURL(), log)
	require.NoError(t, err)
	t.Cleanup(bus.Close)
	svc := execution.NewService(b.db, q, bus, execution.Options{Logger: log})
	b.engine = rule.NewEngine(b.db, q, svc, bus, rule.Options{Logger: log})
	evaluated := make(chan int, 10)
	h.Evaluate = func(ctx context.Context, eventIDs []int) error {
		err := b.engine.EvaluateMany(ctx, eventIDs)
		for _, id := range eventIDs {
			evaluated <- id
		}
		return err
	}
	return b, q, evaluated
}

// evaluationJobs counts the stored evaluation jobs in the given state.
func evaluationJobs(t *testing.T, db *store.DB, state string) int {
	t.Helper()
	var n int
	require.NoError(t, db.SQL.QueryRowContext(t.Context(),
		"SELECT count(*) FROM river_job WHERE kind = 'evaluate_event' AND state = '"+state+"'").Scan(&n))
	return n
}

func TestEmitOnAWorkerNodeEvaluatesBeforeItReturns(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b, _, _ := workerSetup(t, backend)
		hit := b.rule(t, map[string]any{"trigger.sev": map[string]any{"type": "equals", "pattern": "high"}}, nil)
		miss := b.rule(t, map[string]any{"trigger.sev": map[string]any{"type": "equals", "pattern": "low"}}, nil)

		_, err := b.engine.Emit(t.Context(), rule.Emission{Trigger: hit.TriggerRef, Payload: map[string]any{"sev": "high"}, Source: rule.SourceAPI})
		require.NoError(t, err)
		_, err = b.engine.Emit(t.Context(), rule.Emission{Trigger: miss.TriggerRef, Payload: map[string]any{"sev": "high"}, Source: rule.SourceAPI})
		require.NoError(t, err)

		enf := b.enforcements(t, hit)
		require.Len(t, enf, 1, "the matching rule was enforced before Emit returned")
		require.Len(t, enf[0].Edges.Executions, 1)
		require.Empty(t, b.enforcements(t, miss))
		// Both evaluations are done, so neither fallback job is left.
		for _, state := range []string{"scheduled", "available", "running"} {
			require.Zero(t, evaluationJobs(t, b.db, state), "evaluation jobs %s", state)
		}
	})
}

// TestEmitWhoseEvaluationFailsIsStoredForTheQueue: an evaluation that
// fails in the transaction storing its event rolls it all back; the event
// is then stored again with an evaluation job, which a worker runs later.
func TestEmitWhoseEvaluationFailsIsStoredForTheQueue(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b, q, evaluated := workerSetup(t, backend)
		r := b.rule(t, nil, nil)
		var failing atomic.Bool
		failing.Store(true)
		log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
		bus, err := notify.New(t.Context(), b.db, dbtest.PostgresURL(), log)
		require.NoError(t, err)
		t.Cleanup(bus.Close)
		svc := execution.NewService(b.db, q, bus, execution.Options{Logger: log})
		b.engine = rule.NewEngine(b.db, q, svc, bus, rule.Options{Logger: log,
			Context: func(context.Context, *store.Tx, *ent.Rule, rule.Context) ([]string, error) {
				if failing.Load() {
					return nil, errors.New("keystore unreachable")
				}
				return nil, nil
			}})

		ev, err := b.engine.Emit(t.Context(), rule.Emission{Trigger: r.TriggerRef, Payload: map[string]any{"n": 1}, Source: rule.SourceAPI})
		require.NoError(t, err, "the event is stored whatever its evaluation does")
		require.NotZero(t, ev.ID)
		require.Equal(t, 1, b.db.Ent.Event.Query().CountX(t.Context()), "stored once, not twice")
		require.Empty(t, b.enforcements(t, r), "nothing of the failed evaluation was kept")
		require.Equal(t, 1, evaluationJobs(t, b.db, "available"), "the event waits for the queue")

		failing.Store(false)
		require.NoError(t, q.Start(t.Context()))
		t.Cleanup(func() { _ = q.Stop(context.Background()) })
		select {
		case id := <-evaluated:
			require.Equal(t, ev.ID, id)
		case <-time.After(30 * time.Second):
			t.Fatal("the evaluation job never ran")
		}
		enf := b.enforcements(t, r)
		require.Len(t, enf, 1)
		require.Len(t, enf[0].Edges.Executions, 1)
	})
}

// TestEmitByAPackLimitedCallerEvaluatesEveryRule: the caller's pack limit
// scopes what it may read, not the server's evaluation of its event, nor
// the rules remembered for the trigger.
func TestEmitByAPackLimitedCallerEvaluatesEveryRule(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b, _, _ := workerSetup(t, backend)
		packRule := b.rule(t, nil, nil)
		apiRule, err := b.engine.CreateRule(t.Context(), rule.Input{
			Ref: "api.watch", Trigger: packRule.TriggerRef, Action: "tp.act",
		})
		require.NoError(t, err)
		limited := auth.WithPrincipal(t.Context(), &auth.Principal{Name: "tp only", Role: auth.Operator, Packs: []string{"tp"}})

		_, err = b.engine.Emit(limited, rule.Emission{Trigger: packRule.TriggerRef, Source: rule.SourceAPI})
		require.NoError(t, err)
		_, err = b.engine.Emit(t.Context(), rule.Emission{Trigger: packRule.TriggerRef, Source: rule.SourceAPI})
		require.NoError(t, err)
		require.Len(t, b.enforcements(t, packRule), 2)
		require.Len(t, b.enforcements(t, apiRule), 2, "the rule outside the caller's packs is enforced for both events")
	})
}

// TestEvaluationInTheStoringTransactionSeesChangedPacksAndActions: the
// rules an event is judged by in its own transaction are remembered with
// their packs and actions; a change to any of them is seen by the next
// event.
func TestEvaluationInTheStoringTransactionSeesChangedPacksAndActions(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b, _, _ := workerSetup(t, backend)
		r := b.rule(t, nil, map[string]any{"message": "{{ pack.config.greeting }}"})
		emit := func() *ent.Enforcement {
			t.Helper()
			ev, err := b.engine.Emit(t.Context(), rule.Emission{Trigger: r.TriggerRef, Source: rule.SourceAPI})
			require.NoError(t, err)
			enf, err := b.db.Ent.Enforcement.Query().Where(enforcement.EventRef(ev.ID)).WithExecutions().Only(t.Context())
			require.NoError(t, err, "enforced before Emit returned")
			return enf
		}
		enf := emit()
		require.Equal(t, enforcement.StatusPROCESSED, enf.Status)
		require.Equal(t, "hi", enf.Edges.Executions[0].Parameters["message"])

		require.NoError(t, b.db.Ent.Pack.UpdateOne(b.pack).SetConfig(map[string]any{"greeting": "bye"}).Exec(t.Context()))
		enf = emit()
		require.Equal(t, "bye", enf.Edges.Executions[0].Parameters["message"], "the pack's new config")

		require.NoError(t, b.db.Ent.Action.Update().Where(action.Ref("tp.act")).SetEnabled(false).Exec(t.Context()))
		enf = emit()
		require.Equal(t, enforcement.StatusFAILED, enf.Status, "the action was disabled")
		require.Contains(t, enf.Reason, "disabled")
		require.Empty(t, enf.Edges.Executions)
	})
}
