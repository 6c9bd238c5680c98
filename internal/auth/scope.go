package auth

import (
	"context"

	"entgo.io/ent/dialect/sql"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/intercept"
)

// packColumn is, per entity, the column naming its pack, and whether it
// holds a component ref ("pack.name") rather than a pack ref.
var packColumn = map[string]struct {
	column string
	isRef  bool
}{
	ent.TypePack:               {"ref", false},
	ent.TypeAction:             {"pack_ref", false},
	ent.TypeTrigger:            {"pack_ref", false},
	ent.TypeSensor:             {"pack_ref", false},
	ent.TypeRule:               {"pack_ref", false},
	ent.TypeWorkflowDefinition: {"pack_ref", false},
	ent.TypeExecution:          {"pack_ref", false},
	ent.TypeKey:                {"pack_ref", false},
	ent.TypePackInstall:        {"pack_ref", false},
	ent.TypeEvent:              {"trigger_ref", true},
	ent.TypeEnforcement:        {"rule_ref", true},
}

// ScopeInterceptor limits every query made for a pack-limited principal to
// its packs, in SQL, so connections filter before pagination and counts and
// cursors never reveal other packs' rows. Queries without a principal (the
// server's own work) are not touched.
func ScopeInterceptor() ent.Interceptor {
	return intercept.TraverseFunc(func(ctx context.Context, q intercept.Query) error {
		p, ok := FromContext(ctx)
		if !ok || len(p.Packs) == 0 {
			return nil
		}
		col, scoped := packColumn[q.Type()]
		if !scoped {
			return nil
		}
		q.WhereP(func(s *sql.Selector) {
			if !col.isRef {
				vals := make([]any, len(p.Packs))
				for i, v := range p.Packs {
					vals[i] = v
				}
				s.Where(sql.In(s.C(col.column), vals...))
				return
			}
			preds := make([]*sql.Predicate, len(p.Packs))
			for i, v := range p.Packs {
				preds[i] = sql.HasPrefix(s.C(col.column), v+".")
			}
			s.Where(sql.Or(preds...))
		})
		return nil
	})
}
