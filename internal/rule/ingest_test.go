package rule_test

import (
	"encoding/json"
	"sync"
	"testing"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/event"
	"github.com/attune-io/attune/ent/trigger"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/rule"
	"github.com/attune-io/attune/internal/store"
)

// evaluationJobArgs returns, per stored evaluation job, the events it evaluates.
func evaluationJobArgs(t *testing.T, db *store.DB) [][]int {
	t.Helper()
	args := "args"
	if db.Dialect == dialect.SQLite {
		args = "json(args)" // River keeps JSONB there
	}
	rows, err := db.SQL.QueryContext(t.Context(), "SELECT "+args+" FROM river_job WHERE kind = 'evaluate_event'")
	require.NoError(t, err)
	defer rows.Close()
	var out [][]int
	for rows.Next() {
		var raw []byte
		require.NoError(t, rows.Scan(&raw))
		var a struct {
			EventIDs []int `json:"event_ids"`
		}
		require.NoError(t, json.Unmarshal(raw, &a))
		out = append(out, a.EventIDs)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestConcurrentEmissionsEachGetExactlyOneEvaluation(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		r := b.rule(t, nil, nil)
		const n = 40
		var wg sync.WaitGroup
		ids := make([]int, n)
		for i := range n {
			wg.Go(func() {
				ev, err := b.engine.Emit(t.Context(), rule.Emission{Trigger: r.TriggerRef, Payload: map[string]any{"i": i}, Source: rule.SourceAPI})
				if err != nil {
					t.Error(err)
					return
				}
				require.Equal(t, float64(i), ev.Payload["i"], "each emitter gets its own event")
				ids[i] = ev.ID
			})
		}
		wg.Wait()
		seen := map[int]int{}
		jobs := evaluationJobArgs(t, b.db)
		for _, job := range jobs {
			for _, id := range job {
				seen[id]++
			}
		}
		require.Len(t, seen, n)
		for _, id := range ids {
			require.Equal(t, 1, seen[id], "event %d is in exactly one evaluation job", id)
		}
		require.LessOrEqual(t, len(jobs), n)
		t.Logf("%d events in %d jobs", n, len(jobs))

		// Evaluating the jobs enforces the rule once per event.
		for _, job := range jobs {
			require.NoError(t, b.engine.EvaluateMany(t.Context(), job))
		}
		require.Len(t, b.enforcements(t, r), n)
	})
}

func TestABatchWithABadEmissionStoresTheOthers(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		good := b.rule(t, nil, nil)
		gone := b.rule(t, nil, nil)
		ems := []rule.Emission{
			{Trigger: good.TriggerRef, Payload: map[string]any{"n": 1}, Source: rule.SourceAPI},
			{Trigger: gone.TriggerRef, Payload: map[string]any{"n": 2}, Source: rule.SourceAPI},
			{Trigger: good.TriggerRef, Payload: map[string]any{"n": 3}, Source: rule.SourceAPI},
		}
		// The triggers are checked when the emissions arrive; one is deleted
		// before their batch is stored.
		evs, errs := b.engine.StoreBatchAfter(t.Context(), ems, func() {
			_, err := b.db.Ent.Trigger.Delete().Where(trigger.Ref(gone.TriggerRef)).Exec(t.Context())
			require.NoError(t, err)
		})
		require.NoError(t, errs[0])
		require.Equal(t, apperr.NotFound, apperr.CodeOf(errs[1]), "%v", errs[1])
		require.NoError(t, errs[2])
		require.Equal(t, float64(1), evs[0].Payload["n"])
		require.Equal(t, float64(3), evs[2].Payload["n"])
		stored, err := b.db.Ent.Event.Query().Order(event.ByID()).All(t.Context())
		require.NoError(t, err)
		require.Equal(t, []int{evs[0].ID, evs[2].ID}, ids(stored), "only the good events are stored")
		var inJobs []int
		for _, job := range evaluationJobArgs(t, b.db) {
			inJobs = append(inJobs, job...)
		}
		require.ElementsMatch(t, ids(stored), inJobs, "and each is to be evaluated")
	})
}

func ids(evs []*ent.Event) []int {
	out := make([]int, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func TestEvaluateManyJudgesEachEventAgainstItsTriggersRules(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		high := b.rule(t, map[string]any{"trigger.sev": map[string]any{"type": "equals", "pattern": "high"}}, nil)
		other := b.rule(t, nil, nil)
		evs, errs := b.engine.StoreBatchAfter(t.Context(), []rule.Emission{
			{Trigger: high.TriggerRef, Payload: map[string]any{"sev": "high"}, Source: rule.SourceAPI},
			{Trigger: high.TriggerRef, Payload: map[string]any{"sev": "low"}, Source: rule.SourceAPI},
			{Trigger: other.TriggerRef, Payload: map[string]any{}, Source: rule.SourceAPI},
			{Trigger: high.TriggerRef, Payload: map[string]any{"sev": "high"}, Source: rule.SourceAPI},
		}, nil)
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.NoError(t, b.engine.EvaluateMany(t.Context(), ids(evs)))
		// Redelivery creates nothing twice.
		require.NoError(t, b.engine.EvaluateMany(t.Context(), ids(evs)))
		hi := b.enforcements(t, high)
		require.Len(t, hi, 2)
		require.ElementsMatch(t, []int{evs[0].ID, evs[3].ID}, []int{hi[0].EventRef, hi[1].EventRef})
		require.Len(t, b.enforcements(t, other), 1)
	})
}

func TestRuleChangesAreSeenByTheNextEvaluation(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		sev := func(s string) map[string]any {
			return map[string]any{"trigger.sev": map[string]any{"type": "equals", "pattern": s}}
		}
		first := b.rule(t, sev("high"), nil)
		low := map[string]any{"sev": "low"}
		b.fire(t, first, low) // evaluated, and its rules remembered
		require.Empty(t, b.enforcements(t, first))

		_, err := b.engine.UpdateRule(t.Context(), first.Ref, rule.Patch{Criteria: sev("low")})
		require.NoError(t, err)
		b.fire(t, first, low)
		require.Len(t, b.enforcements(t, first), 1, "changed criteria apply to the next event")

		second, err := b.engine.CreateRule(t.Context(), rule.Input{
			Ref: first.Ref + "b", Pack: "tp", Trigger: first.TriggerRef, Action: "tp.act", Criteria: sev("low"),
		})
		require.NoError(t, err)
		_, err = b.engine.SetRuleEnabled(t.Context(), first.Ref, false)
		require.NoError(t, err)
		b.fire(t, first, low)
		require.Len(t, b.enforcements(t, first), 1, "a disabled rule is not evaluated")
		require.Len(t, b.enforcements(t, second), 1, "a new rule applies to the next event")
	})
}
