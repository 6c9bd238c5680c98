package graph_test

import (
	"bytes"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/attune-io/attune/graph"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestListingExecutionsIsNotNPlusOne lists executions with their action,
// enforcement's rule and parent: the number of SQL queries does not grow
// with the page.
func TestListingExecutionsIsNotNPlusOne(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		f := b.fixtures(t, "np")
		ctx := t.Context()
		bulk := make([]*entExecutionCreate, 0, 100)
		for range 100 {
			bulk = append(bulk, b.ent.Execution.Create().SetAction(f.action).SetActionRef(f.action.Ref).
				SetParent(f.parent).SetEnforcement(f.enforcement))
		}
		b.ent.Execution.CreateBulk(bulk...).ExecX(ctx)

		const q = `query($n:Int){ executions(first:$n){ totalCount edges{ node{
			id actionRef action{ ref pack{ ref } } enforcement{ status rule{ ref } } parent{ id actionRef } } } } }`
		count := func(n int) int64 {
			before := b.queries.Load()
			var got struct {
				Executions struct {
					Edges []struct {
						Node struct {
							Action      struct{ Ref string }
							Enforcement *struct{ Rule struct{ Ref string } }
						}
					}
				}
			}
			b.c.Must(t, q, map[string]any{"n": n}, &got)
			require.Len(t, got.Executions.Edges, n)
			require.Equal(t, "np.act", got.Executions.Edges[0].Node.Action.Ref)
			return b.queries.Load() - before
		}
		small, large := count(10), count(100)
		require.Equal(t, small, large, "query count must not depend on page size")
		require.LessOrEqual(t, large, int64(8), "listing executions with edges takes a constant, small number of queries")
	})
}

func TestGuardRails(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	t.Run("PageSize", func(t *testing.T) {
		t.Parallel()
		e := b.c.Fail(t, `{ executions(first: 1001){ totalCount } }`, nil)
		requireCode(t, e, "BAD_USER_INPUT")
		require.Contains(t, e.Message, "1000")
		e = b.c.Fail(t, `{ packs(last: -1){ totalCount } }`, nil)
		requireCode(t, e, "BAD_USER_INPUT")
	})
	t.Run("Depth", func(t *testing.T) {
		t.Parallel()
		e := b.c.Fail(t, `{ executions(first:1){ edges{ node{ parent{ parent{ parent{ parent{ parent{
			parent{ parent{ parent{ parent{ id } } } } } } } } } } } } }`, nil)
		requireCode(t, e, "QUERY_TOO_DEEP")
	})
	t.Run("Complexity", func(t *testing.T) {
		t.Parallel()
		e := b.c.Fail(t, `{ packs(first:1000){ edges{ node{ actions(first:1000){ edges{ node{
			executions(first:1000){ totalCount } } } } } } } }`, nil)
		requireCode(t, e, "COMPLEXITY_LIMIT_EXCEEDED")
	})
	t.Run("BodySize", func(t *testing.T) {
		t.Parallel()
		big := `{"query":"{ packs { totalCount } }","variables":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`
		req, err := http.NewRequest(http.MethodPost, b.c.URL, bytes.NewBufferString(big))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		r := b.c.Send(t, req)
		require.Equal(t, http.StatusRequestEntityTooLarge, r.Status)
		require.Equal(t, "PAYLOAD_TOO_LARGE", r.Errors[0].Code())
	})
	t.Run("Syntax", func(t *testing.T) {
		t.Parallel()
		e := b.c.Fail(t, `{ packs { `, nil)
		requireCode(t, e, "GRAPHQL_PARSE_FAILED")
	})
}

// TestInternalErrorsDoNotLeak closes the database under the server: the
// client gets a generic INTERNAL_SERVER_ERROR, never SQL or file paths.
func TestInternalErrorsDoNotLeak(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		require.NoError(t, b.closeDB())
		e := b.c.Fail(t, `{ packs{ totalCount } }`, nil)
		requireCode(t, e, "INTERNAL_SERVER_ERROR")
		require.Equal(t, "internal server error", e.Message)
	})
}

// TestSchemaGolden pins the whole GraphQL schema, so API changes are
// deliberate: run `go test ./graph -run TestSchemaGolden -update` to accept.
func TestSchemaGolden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	formatter.NewFormatter(&buf, formatter.WithIndent("  ")).
		FormatSchema(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema())
	const golden = "testdata/schema.golden.graphql"
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	require.Equal(t, string(want), buf.String(), "GraphQL schema changed; rerun with -update if deliberate")
}

// TestConnectionsAreNeverUnbounded: a connection queried without first or
// last returns DefaultPageSize rows, nested ones too, and totalCount stays
// the real count.
func TestConnectionsAreNeverUnbounded(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		f := b.fixtures(t, "pg")
		bulk := make([]*entExecutionCreate, 0, graph.DefaultPageSize+20)
		for range graph.DefaultPageSize + 20 {
			bulk = append(bulk, b.ent.Execution.Create().SetAction(f.action).SetActionRef(f.action.Ref))
		}
		b.ent.Execution.CreateBulk(bulk...).ExecX(t.Context())
		var got struct {
			Executions struct {
				TotalCount int
				Edges      []struct{ Cursor string }
				PageInfo   struct{ HasNextPage bool }
			}
			Actions struct {
				Edges []struct {
					Node struct {
						Executions struct {
							TotalCount int
							Edges      []struct{ Cursor string }
						}
					}
				}
			}
		}
		const q = `{ executions { totalCount edges { cursor } pageInfo { hasNextPage } }
			actions { edges { node { executions { totalCount edges { cursor } } } } } }`
		for range 2 { // the second run uses the cached, rewritten document
			b.c.Must(t, q, nil, &got)
			require.Equal(t, graph.DefaultPageSize+22, got.Executions.TotalCount)
			require.Len(t, got.Executions.Edges, graph.DefaultPageSize)
			require.True(t, got.Executions.PageInfo.HasNextPage)
			require.Len(t, got.Actions.Edges[0].Node.Executions.Edges, graph.DefaultPageSize)
		}
	})
}

// TestMalformedArgumentsAreTheClientsMistake: a bad ID or cursor is
// BAD_USER_INPUT, not an internal error.
func TestMalformedArgumentsAreTheClientsMistake(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	for _, q := range []string{
		`{ node(id: "abc") { id } }`,
		`{ execution(id: "1.5x") { id } }`,
		`{ executions(after: "garbage", first: 2) { totalCount } }`,
	} {
		e := b.c.Fail(t, q, nil)
		requireCode(t, e, "BAD_USER_INPUT")
	}
	var got struct{ Executions struct{ TotalCount int } }
	b.c.Must(t, `{ executions(first: 1) { totalCount edges { cursor } } }`, nil, &got)
}

// TestFieldMiddleware: the handler installs its field middleware on each
// operation itself (fieldMiddleware), so these prove it still runs: guard
// on root fields, of queries and mutations, and the page size limit on
// nested connections too.
func TestFieldMiddleware(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	b.fixtures(t, "mw")
	t.Run("NestedPageSize", func(t *testing.T) {
		t.Parallel()
		e := b.c.Fail(t, `{ actions(first: 1) { edges { node { executions(first: 1001) { totalCount } } } } }`, nil)
		requireCode(t, e, "BAD_USER_INPUT")
		require.Contains(t, e.Message, "1000")
	})
	t.Run("Unauthenticated", func(t *testing.T) {
		t.Parallel()
		// The handler without Authenticate: no principal on any request.
		h := graph.NewHandler(&graph.Resolver{Client: b.ent}, graph.Options{})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		c := gqltest.New(srv.URL)
		for _, q := range []string{
			`{ executions(first: 1) { totalCount } }`,
			`mutation { deleteKey(name: "k") { deletedRef } }`,
		} {
			requireCode(t, c.Fail(t, q, nil), "UNAUTHENTICATED")
		}
	})
}
