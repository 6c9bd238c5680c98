package graph_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent/auditevent"
	"github.com/attune-io/attune/ent/policyevent"
	"github.com/attune-io/attune/graph"
	"github.com/attune-io/attune/internal/auth"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
	"github.com/attune-io/attune/internal/pack"
)

// authBundle is the real handler with authentication on, and a token per
// role: the unrestricted ones and two limited to pack "pa".
type authBundle struct {
	*bundle
	url    string
	tokens map[string]string
}

func setupAuth(t *testing.T, backend string) *authBundle {
	t.Helper()
	db := dbtest.Open(t, backend)
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	dir := t.TempDir()
	packs, err := pack.NewService(db, pack.Config{
		PacksDir: filepath.Join(dir, "packs"), EnvsDir: filepath.Join(dir, "envs"), Logger: log,
	})
	require.NoError(t, err)
	tokens := auth.NewService(db)
	h := graph.NewHandler(&graph.Resolver{Client: db.Ent, Packs: packs, Tokens: tokens}, graph.Options{
		Logger: log, Introspection: true,
	})
	srv := httptest.NewServer(graph.Authenticate(tokens, h))
	t.Cleanup(srv.Close)
	b := &authBundle{bundle: &bundle{dir: dir, closeDB: db.Close, ent: db.Ent}, url: srv.URL, tokens: map[string]string{}}
	for name, req := range map[string]auth.CreateRequest{
		"admin": {Role: auth.Admin}, "editor": {Role: auth.Editor},
		"operator": {Role: auth.Operator}, "viewer": {Role: auth.Viewer},
		"admin@pa": {Role: auth.Admin, Packs: []string{"pa"}}, "viewer@pa": {Role: auth.Viewer, Packs: []string{"pa"}},
	} {
		req.Name = name
		token, _, err := tokens.Create(t.Context(), req)
		require.NoError(t, err)
		b.tokens[name] = token
	}
	return b
}

func (b *authBundle) as(name string) *gqltest.Client {
	c := gqltest.New(b.url)
	c.Header.Set("Authorization", "Bearer "+b.tokens[name])
	return c
}

// allFixtures makes one row of every node type in packs pa and pb (and
// system-wide where a type has that).
func (b *authBundle) allFixtures(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	for _, ref := range []string{"pa", "pb"} {
		f := b.fixtures(t, ref)
		b.ent.ActionPolicy.Create().SetRef(ref + ".pol").SetPackRef(ref).SetPackID(f.pack.ID).
			SetActionRef(f.action.Ref).SetConcurrencyThreshold(1).SaveX(ctx)
		b.ent.PolicyEvent.Create().SetExecutionID(f.execution.ID).SetPolicyRef(ref + ".pol").
			SetKind(policyevent.KindDELAYED).SetAt(time.Now()).SaveX(ctx)
		b.ent.Inquiry.Create().SetExecutionID(f.execution.ID).SetPackRef(ref).
			SetResponseSchema(map[string]any{"type": "object"}).SetTimeoutAt(time.Now().Add(time.Hour)).SaveX(ctx)
		b.ent.Key.Create().SetName("k").SetPackRef(ref).SaveX(ctx)
		b.ent.PackInstall.Create().SetSource("/src/" + ref).SetPackRef(ref).SaveX(ctx)
		b.ent.AuditEvent.Create().SetActor("someone").SetOperation("deletePack").SetPackRef(ref).
			SetOutcome(auditevent.OutcomeOK).SaveX(ctx)
	}
	b.ent.Key.Create().SetName("k").SaveX(ctx)
	b.ent.AuditEvent.Create().SetActor("someone").SetOperation("createApiToken").
		SetOutcome(auditevent.OutcomeOK).SaveX(ctx)
}

// nodeSchema is what the test reads of the live schema: the types
// implementing Node, each one's root connection field, and the fields of
// node types that reach node types (edges).
type nodeSchema struct {
	types []string
	root  map[string]string // type → root connection field of Query
	edges []edge
}

type edge struct {
	parent, field, child string
	connection           bool
}

func readNodeSchema(t *testing.T, c *gqltest.Client) nodeSchema {
	t.Helper()
	typeRef := `kind name ofType { kind name ofType { kind name ofType { kind name } } }`
	var in struct {
		Schema struct {
			Types []struct {
				Name, Kind string
				Interfaces []struct{ Name string }
				Fields     []struct {
					Name string
					Args []struct{ Type typeRefT }
					Type typeRefT
				}
			}
		} `json:"__schema"`
	}
	c.Must(t, `{ __schema { types { name kind interfaces { name }
		fields { name args { type { `+typeRef+` } } type { `+typeRef+` } } } } }`, nil, &in)
	s := nodeSchema{root: map[string]string{}}
	isNode := map[string]bool{}
	for _, ty := range in.Schema.Types {
		for _, i := range ty.Interfaces {
			if i.Name == "Node" {
				isNode[ty.Name] = true
				s.types = append(s.types, ty.Name)
			}
		}
	}
	for _, ty := range in.Schema.Types {
		for _, f := range ty.Fields {
			name := f.Type.named()
			child, connection := strings.CutSuffix(name, "Connection")
			if !isNode[child] {
				continue
			}
			required := false
			for _, a := range f.Args {
				required = required || a.Type.Kind == "NON_NULL"
			}
			switch {
			case ty.Name == "Query" && connection:
				s.root[child] = f.Name
			case isNode[ty.Name] && !required:
				s.edges = append(s.edges, edge{ty.Name, f.Name, child, connection})
			}
		}
	}
	return s
}

type typeRefT struct {
	Kind, Name string
	OfType     *typeRefT
}

func (r typeRefT) named() string {
	for r.OfType != nil {
		r = *r.OfType
	}
	return r.Name
}

// outcome is what a role gets of one type: forbidden, or the ids it sees.
type outcome struct {
	forbidden bool
	ids       []string
}

func (b *authBundle) list(t *testing.T, c *gqltest.Client, field string) outcome {
	t.Helper()
	r := c.Do(t, `{ `+field+`(first: 100) { totalCount edges { node { id } } } }`, nil)
	if len(r.Errors) > 0 {
		require.Len(t, r.Errors, 1, "%+v", r.Errors)
		require.Equal(t, "FORBIDDEN", r.Errors[0].Code(), "%s: %s", field, r.Errors[0].Message)
		return outcome{forbidden: true}
	}
	var got map[string]struct {
		TotalCount int
		Edges      []struct{ Node struct{ ID string } }
	}
	require.NoError(t, json.Unmarshal(r.Data, &got))
	out := outcome{ids: []string{}}
	for _, e := range got[field].Edges {
		out.ids = append(out.ids, e.Node.ID)
	}
	require.Equal(t, len(out.ids), got[field].TotalCount, "%s: totalCount counts only what is seen", field)
	return out
}

// TestEveryPathToARowAgreesWithItsRootQuery: for every node type of the
// live schema and every role (unrestricted and limited to a pack),
// node(id:), nodes(ids:) and every edge reaching the type give what the
// type's root query gives: FORBIDDEN when it refuses the type, the row
// when it lists it, nothing when it hides it.
func TestEveryPathToARowAgreesWithItsRootQuery(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setupAuth(t, backend)
		b.allFixtures(t)
		admin := b.as("admin")
		s := readNodeSchema(t, admin)
		require.NotEmpty(t, s.types)

		// Every row of every type, as seen by an unrestricted admin.
		all := map[string][]string{}
		var allIDs []string
		typeOf := map[string]string{}
		for _, ty := range s.types {
			field, ok := s.root[ty]
			require.True(t, ok, "node type %s has no root connection query", ty)
			o := b.list(t, admin, field)
			require.False(t, o.forbidden)
			require.GreaterOrEqual(t, len(o.ids), 1, "no fixture of %s: add one to allFixtures", ty)
			all[ty] = o.ids
			allIDs = append(allIDs, o.ids...)
			for _, id := range o.ids {
				typeOf[id] = ty
			}
		}
		// What each edge reaches, as the admin sees it.
		reach := map[string][]string{} // parent id/field → child ids
		for _, e := range s.edges {
			for _, pid := range all[e.parent] {
				r := admin.Do(t, edgeQuery(e), map[string]any{"id": pid})
				require.Empty(t, r.Errors, "%s.%s", e.parent, e.field)
				reach[pid+"/"+e.field] = edgeIDs(t, r, e)
			}
		}

		for role := range b.tokens {
			t.Run(role, func(t *testing.T) {
				c := b.as(role)
				seen := map[string]outcome{}
				for _, ty := range s.types {
					seen[ty] = b.list(t, c, s.root[ty])
				}
				require.Equal(t, role == "viewer" || role == "operator" || role == "viewer@pa", seen["Key"].forbidden,
					"keys are for EDITOR and up")
				require.Equal(t, !strings.HasPrefix(role, "admin"), seen["APIToken"].forbidden, "tokens are for ADMIN")
				if strings.HasSuffix(role, "@pa") {
					require.Len(t, seen["Pack"].ids, 1, "pack-limited tokens see their pack only")
				}
				if role == "admin@pa" {
					require.Len(t, seen["APIToken"].ids, 1, "a pack-limited token sees no token but itself")
					require.Len(t, seen["AuditEvent"].ids, 1, "a pack-limited token sees its packs' audit entries")
					require.Len(t, seen["Key"].ids, 1, "and its packs' keys")
				}
				visible := func(id string) bool { return slices.Contains(seen[typeOf[id]].ids, id) }

				// node(id:)
				for _, id := range allIDs {
					r := c.Do(t, `query($id: ID!){ node(id: $id) { id } }`, map[string]any{"id": id})
					var got struct{ Node *struct{ ID string } }
					require.NoError(t, json.Unmarshal(r.Data, &got))
					ty := typeOf[id]
					switch {
					case seen[ty].forbidden:
						require.Nil(t, got.Node, "%s %s", ty, id)
						require.Len(t, r.Errors, 1)
						require.Equal(t, "FORBIDDEN", r.Errors[0].Code(), "node(%s) of %s", id, ty)
					case visible(id):
						require.Empty(t, r.Errors, "node(%s) of %s", id, ty)
						require.Equal(t, id, got.Node.ID)
					default:
						require.Nil(t, got.Node, "node(%s) of %s is hidden by the root query", id, ty)
						require.Len(t, r.Errors, 1)
						require.Equal(t, "NOT_FOUND", r.Errors[0].Code(), "node(%s) of %s", id, ty)
					}
				}

				// nodes(ids:) with every id at once
				r := c.Do(t, `query($ids: [ID!]!){ nodes(ids: $ids) { id } }`, map[string]any{"ids": allIDs})
				var got struct{ Nodes []*struct{ ID string } }
				require.NoError(t, json.Unmarshal(r.Data, &got))
				require.Len(t, got.Nodes, len(allIDs))
				codes := map[int]string{}
				for _, e := range r.Errors {
					require.Len(t, e.Path, 2, "%+v", e)
					codes[int(e.Path[1].(float64))] = e.Code()
				}
				for i, id := range allIDs {
					ty := typeOf[id]
					switch {
					case seen[ty].forbidden:
						require.Nil(t, got.Nodes[i])
						require.Equal(t, "FORBIDDEN", codes[i], "nodes[%d] of %s", i, ty)
					case visible(id):
						require.NotNil(t, got.Nodes[i], "nodes[%d] of %s", i, ty)
						require.Equal(t, id, got.Nodes[i].ID)
					default:
						require.Nil(t, got.Nodes[i], "nodes[%d] of %s is hidden by the root query", i, ty)
						require.Equal(t, "NOT_FOUND", codes[i])
					}
				}

				// every edge, from every parent this role sees
				for _, e := range s.edges {
					for _, pid := range all[e.parent] {
						if !visible(pid) {
							continue
						}
						r := c.Do(t, edgeQuery(e), map[string]any{"id": pid})
						if seen[e.child].forbidden {
							if len(reach[pid+"/"+e.field]) == 0 && !e.connection {
								continue // nothing to reach: nothing to refuse
							}
							require.NotEmpty(t, r.Errors, "%s.%s of %s", e.parent, e.field, pid)
							require.Equal(t, "FORBIDDEN", r.Errors[0].Code(), "%s.%s", e.parent, e.field)
							continue
						}
						require.Empty(t, r.Errors, "%s.%s of %s", e.parent, e.field, pid)
						want := []string{}
						for _, id := range reach[pid+"/"+e.field] {
							if visible(id) {
								want = append(want, id)
							}
						}
						require.ElementsMatch(t, want, edgeIDs(t, r, e), "%s.%s of %s", e.parent, e.field, pid)
					}
				}
			})
		}
	})
}

func edgeQuery(e edge) string {
	sel := "{ id }"
	if e.connection {
		sel = "{ totalCount edges { node { id } } }"
	}
	return fmt.Sprintf(`query($id: ID!){ node(id: $id) { ... on %s { %s %s } } }`, e.parent, e.field, sel)
}

func edgeIDs(t *testing.T, r gqltest.Response, e edge) []string {
	t.Helper()
	var got struct{ Node map[string]json.RawMessage }
	require.NoError(t, json.Unmarshal(r.Data, &got))
	raw := got.Node[e.field]
	ids := []string{}
	if e.connection {
		var conn struct {
			TotalCount int
			Edges      []struct{ Node struct{ ID string } }
		}
		require.NoError(t, json.Unmarshal(raw, &conn))
		for _, ed := range conn.Edges {
			ids = append(ids, ed.Node.ID)
		}
		require.Equal(t, len(ids), conn.TotalCount, "%s.%s: totalCount counts only what is seen", e.parent, e.field)
		return ids
	}
	if len(raw) > 0 && raw[0] == '[' { // a list edge
		var list []struct{ ID string }
		require.NoError(t, json.Unmarshal(raw, &list))
		for _, n := range list {
			ids = append(ids, n.ID)
		}
		return ids
	}
	var one *struct{ ID string }
	require.NoError(t, json.Unmarshal(raw, &one))
	if one != nil {
		ids = append(ids, one.ID)
	}
	return ids
}
