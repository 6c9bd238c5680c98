package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/attune-io/attune/ent"
)

// selectedEdges eager-loads the execution edges an executionUpdated
// subscription selects (action, enforcement, parent), so that each batch
// of changes reads each edge in one query instead of one per update sent;
// nil when it selects none. Deeper edges still resolve one by one. It only
// adds edges: entgql's CollectFields would also narrow the columns read,
// and the subscription's filter needs the status and the action's ref.
func selectedEdges(ctx context.Context) func(*ent.ExecutionQuery) (*ent.ExecutionQuery, error) {
	var with []func(*ent.ExecutionQuery)
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		switch f.Name {
		case "action":
			with = append(with, func(q *ent.ExecutionQuery) { q.WithAction() })
		case "enforcement":
			with = append(with, func(q *ent.ExecutionQuery) { q.WithEnforcement() })
		case "parent":
			with = append(with, func(q *ent.ExecutionQuery) { q.WithParent() })
		}
	}
	if len(with) == 0 {
		return nil
	}
	return func(q *ent.ExecutionQuery) (*ent.ExecutionQuery, error) {
		for _, w := range with {
			w(q)
		}
		return q, nil
	}
}
