package rule_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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

func TestFallbackEvaluationJobEvaluatesWhenItFallsDue(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b, q, evaluated := workerSetup(t, backend)
		r := b.rule(t, nil, nil)
		// As if the node died between storing the event and evaluating it:
		// the event and its fallback job, nothing else.
		var eventID int
		var jobIDs []int64
		require.NoError(t, b.db.InTx(t.Context(), func(tx *store.Tx) error {
			ev, err := tx.Ent.Event.Create().SetTriggerRef(r.TriggerRef).SetPayload(map[string]any{}).SetSourceRef(rule.SourceAPI).Save(t.Context())
			if err != nil {
				return err
			}
			eventID = ev.ID
			jobIDs, err = q.InsertFallbackEvaluationTx(t.Context(), tx, ev.ID)
			return err
		}))
		require.Equal(t, 1, evaluationJobs(t, b.db, "scheduled"), "the fallback waits, so it never races the node's own evaluation")
		require.Empty(t, b.enforcements(t, r))

		// Falling due is River's scheduler making it available; do that now.
		require.NoError(t, q.Start(t.Context()))
		t.Cleanup(func() { _ = q.Stop(context.Background()) })
		require.NoError(t, q.Retry(t.Context(), jobIDs[0]))
		select {
		case id := <-evaluated:
			require.Equal(t, eventID, id)
		case <-time.After(30 * time.Second):
			t.Fatal("the fallback job never ran")
		}
		require.Len(t, b.enforcements(t, r), 1)
	})
}

// TestEmitByAPackLimitedCallerEvaluatesEveryRule: the caller's pack limit
// scopes what it may read, not the server's evaluation of its event, nor
// the rules remembered for the trigger.
func TestEmitByAPackLimitedCallerEvaluatesEveryRule(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b, _, _ := workerSetup(t, backend)
		b.db.Ent.Intercept(auth.ScopeInterceptor())
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
