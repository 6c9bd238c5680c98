package schema

import (
	"context"
	"slices"

	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/privacy"

	"github.com/attune-io/attune/ent/intercept"
)

// Who may read what is decided here, for every query of every entity,
// whatever asks: a root field, node(id:), nodes(ids:), an edge, a
// subscription or a service. Each entity's Policy() is readPolicy, which
// looks its type up in readAccess. Writes are decided by the GraphQL
// layer's mutation guard and the services; this file only filters reads.

// Viewer is who a query runs for, as the read policy needs to know it.
// internal/auth's Principal is the one implementation; a context without a
// viewer is the server's own work and reads everything.
type Viewer interface {
	// ViewerRole is one of Roles, or MetricsRole, which reads nothing.
	ViewerRole() string
	// ViewerPacks limits the viewer to these packs when not empty.
	ViewerPacks() []string
	// ViewerTokenID is the viewer's API token id, 0 for none.
	ViewerTokenID() int
}

// executionViewer is a viewer acting for one run of an action: the token
// minted for a StackStorm Python action's action_service.
type executionViewer interface {
	ViewerExecutionID() int
}

type viewerKey struct{}

// NewViewerContext returns ctx reading as v.
func NewViewerContext(ctx context.Context, v Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// ViewerFromContext returns the viewer ctx reads as, if any.
func ViewerFromContext(ctx context.Context) (Viewer, bool) {
	v, ok := ctx.Value(viewerKey{}).(Viewer)
	return v, ok
}

// SystemContext returns ctx reading everything, whoever it acts for: for
// the server's own reads on a request's behalf (authenticating a token,
// reading the keys a template names).
func SystemContext(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}

// access is who may read an entity: the least role, and how a pack-limited
// viewer's reads are narrowed to its packs (nil: it reads none).
type access struct {
	role  string
	scope func(s *sql.Selector, v Viewer)
}

// readAccess is the read policy of every entity. An entity missing here is
// readable only by the server itself: new entities are closed until
// someone decides.
var readAccess = map[string]access{
	"Pack":               {"VIEWER", inPacks("ref")},
	"Action":             {"VIEWER", inPacks("pack_ref")},
	"Trigger":            {"VIEWER", inPacks("pack_ref")},
	"Sensor":             {"VIEWER", inPacks("pack_ref")},
	"Rule":               {"VIEWER", inPacks("pack_ref")},
	"WorkflowDefinition": {"VIEWER", inPacks("pack_ref")},
	"Execution":          {"VIEWER", inPacks("pack_ref")},
	"PackInstall":        {"VIEWER", inPacks("pack_ref")},
	"Event":              {"VIEWER", refInPacks("trigger_ref")},
	"Enforcement":        {"VIEWER", refInPacks("rule_ref")},
	"WorkflowExecution":  {"VIEWER", parentInPacks("workflow_definition_id", "workflow_definitions")},
	"ExecutionOutput":    {"VIEWER", parentInPacks("execution_id", "executions")},
	"ActionPolicy":       {"VIEWER", inPacks("pack_ref")},
	"PolicyEvent":        {"VIEWER", parentInPacks("execution_id", "executions")},
	"Inquiry":            {"VIEWER", inPacks("pack_ref")},
	// Key metadata (names, packs; never secret values) is for those who
	// manage keys.
	"Key": {"EDITOR", inPacks("pack_ref")},
	// A pack-limited token sees no other token: only itself.
	"APIToken": {"ADMIN", func(s *sql.Selector, v Viewer) {
		s.Where(sql.EQ(s.C("id"), v.ViewerTokenID()))
	}},
	// A pack-limited token sees its packs' audit entries and its own.
	"AuditEvent": {"ADMIN", func(s *sql.Selector, v Viewer) {
		s.Where(sql.Or(packIn(s.C("pack_ref"), v.ViewerPacks()), sql.EQ(s.C("actor_token_id"), v.ViewerTokenID())))
	}},
}

// readPolicy is every entity's Policy: readAccess applied to its queries.
var readPolicy ent.Policy = privacy.Policy{Query: privacy.QueryPolicy{queryRule(readRule)}}

// queryRule adapts a function to privacy.QueryRule.
type queryRule func(context.Context, ent.Query) error

func (f queryRule) EvalQuery(ctx context.Context, q ent.Query) error { return f(ctx, q) }

func readRule(ctx context.Context, q ent.Query) error {
	v, ok := ViewerFromContext(ctx)
	if !ok {
		return privacy.Allow
	}
	query, err := intercept.NewQuery(q)
	if err != nil {
		return privacy.Denyf("reading: %v", err)
	}
	typ := query.Type()
	if ev, ok := v.(executionViewer); ok && ev.ViewerExecutionID() != 0 {
		// The token of one run of an action reads keys only: its
		// pack's and the system-wide ones, as the pack's templates do.
		if typ != "Key" {
			return privacy.Denyf("an action's run token reads only the key/value store")
		}
		query.WhereP(func(s *sql.Selector) {
			s.Where(packIn(s.C("pack_ref"), append(slices.Clone(v.ViewerPacks()), "")))
		})
		return privacy.Allow
	}
	acc, known := readAccess[typ]
	if !known {
		return privacy.Denyf("%s is not readable through the API", typ)
	}
	if rank(v.ViewerRole()) < rank(acc.role) {
		return privacy.Denyf("reading %s needs the %s role; this token is %s", typ, acc.role, v.ViewerRole())
	}
	if len(v.ViewerPacks()) == 0 {
		return privacy.Allow
	}
	query.WhereP(func(s *sql.Selector) { acc.scope(s, v) })
	return privacy.Allow
}

// rank orders Roles: the first is the most powerful, an unknown role is 0.
func rank(role string) int {
	i := slices.Index(Roles, role)
	if i < 0 {
		return 0
	}
	return len(Roles) - i
}

func inPacks(column string) func(*sql.Selector, Viewer) {
	return func(s *sql.Selector, v Viewer) { s.Where(packIn(s.C(column), v.ViewerPacks())) }
}

func packIn(col string, packs []string) *sql.Predicate {
	vals := make([]any, len(packs))
	for i, p := range packs {
		vals[i] = p
	}
	return sql.In(col, vals...)
}

// refInPacks narrows a column holding a component ref ("pack.name").
func refInPacks(column string) func(*sql.Selector, Viewer) {
	return func(s *sql.Selector, v Viewer) {
		preds := make([]*sql.Predicate, len(v.ViewerPacks()))
		for i, p := range v.ViewerPacks() {
			preds[i] = sql.HasPrefix(s.C(column), p+".")
		}
		s.Where(sql.Or(preds...))
	}
}

// parentInPacks narrows rows to those whose parent (column → table.id)
// has a pack_ref in the viewer's packs.
func parentInPacks(column, table string) func(*sql.Selector, Viewer) {
	return func(s *sql.Selector, v Viewer) {
		b := sql.Dialect(s.Dialect())
		t := b.Table(table)
		parents := b.Select(t.C("id")).From(t).Where(packIn(t.C("pack_ref"), v.ViewerPacks()))
		s.Where(sql.In(s.C(column), parents))
	}
}
