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
func selectedEdges(ctx context.Context) func(*ent.ExecutionQuery) {
	var action, enforcement, parent bool
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		switch f.Name {
		case "action":
			action = true
		case "enforcement":
			enforcement = true
		case "parent":
			parent = true
		}
	}
	if !action && !enforcement && !parent {
		return nil
	}
	return func(q *ent.ExecutionQuery) {
		if action {
			q.WithAction()
		}
		if enforcement {
			q.WithEnforcement()
		}
		if parent {
			q.WithParent()
		}
	}
}
