package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkExecutionsPage fetches a page of executions with the edges a
// listing shows, through the real handler over HTTP, from a SQLite
// database holding a few thousand executions.
func BenchmarkExecutionsPage(b *testing.B) {
	bn := setup(b, "sqlite")
	f := bn.fixtures(b, "bench")
	ctx := b.Context()
	for range 5 {
		bulk := make([]*entExecutionCreate, 0, 1000)
		for range 1000 {
			bulk = append(bulk, bn.ent.Execution.Create().SetAction(f.action).SetActionRef(f.action.Ref).
				SetPackRef("bench").SetParent(f.parent).SetEnforcement(f.enforcement))
		}
		require.NoError(b, bn.ent.Execution.CreateBulk(bulk...).Exec(ctx))
	}
	const query = `{ executions(first: 100) { edges { node {
		id status actionRef requestedAt action { ref } enforcement { rule { ref } } parent { id } } } } }`
	for b.Loop() {
		r := bn.c.Do(b, query, nil)
		if len(r.Errors) > 0 {
			b.Fatal(r.Errors[0].Message)
		}
	}
}
