package graph

import (
	"context"
	"strconv"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// DefaultPageSize is what a connection returns when the query gives
// neither first nor last: no connection is ever unbounded.
const DefaultPageSize = 100

// defaultPage writes first: DefaultPageSize into every connection field of
// the operation's document that has neither first nor last, so the
// resolvers, entgql's eager loading of nested connections and the
// complexity limit all see the same bound. Documents are cached and shared
// between requests, so the rewrite happens once per document, under a lock,
// and before any other extension reads it (register this one first).
type defaultPage struct {
	mu   sync.Mutex
	done map[*ast.QueryDocument]bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = (*defaultPage)(nil)

func newDefaultPage() *defaultPage { return &defaultPage{done: map[*ast.QueryDocument]bool{}} }

func (*defaultPage) ExtensionName() string                   { return "DefaultPageSize" }
func (*defaultPage) Validate(graphql.ExecutableSchema) error { return nil }

func (d *defaultPage) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Doc == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done[oc.Doc] {
		return nil
	}
	for _, op := range oc.Doc.Operations {
		boundConnections(op.SelectionSet)
	}
	for _, f := range oc.Doc.Fragments {
		boundConnections(f.SelectionSet)
	}
	if len(d.done) >= maxRemembered {
		// Forgetting is safe: a second pass over a rewritten document
		// finds first everywhere and writes nothing.
		clear(d.done)
	}
	d.done[oc.Doc] = true
	return nil
}

// maxRemembered bounds the set of rewritten documents (the query cache
// holds 1000).
const maxRemembered = 4096

func boundConnections(set ast.SelectionSet) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if def := s.Definition; def != nil && def.Arguments.ForName("first") != nil &&
				def.Arguments.ForName("last") != nil &&
				s.Arguments.ForName("first") == nil && s.Arguments.ForName("last") == nil {
				s.Arguments = append(s.Arguments, &ast.Argument{
					Name:     "first",
					Value:    &ast.Value{Kind: ast.IntValue, Raw: strconv.Itoa(DefaultPageSize)},
					Position: s.Position,
				})
			}
			boundConnections(s.SelectionSet)
		case *ast.InlineFragment:
			boundConnections(s.SelectionSet)
		}
	}
}
