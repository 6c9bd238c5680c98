package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/attune-io/attune/internal/apperr"
)

// MaxPageSize caps first/last on every connection.
const MaxPageSize = 1000

// Error codes of the guard rails that are not Apollo's.
const (
	codeTooDeep = "QUERY_TOO_DEEP"
)

// weightedSchema makes a connection field cost its page size times its
// children, so `packs(first:1000){actions(first:1000)}` is expensive, as it is.
type weightedSchema struct{ graphql.ExecutableSchema }

// Complexity weights connections by first/last; other fields keep gqlgen's default.
func (w weightedSchema) Complexity(ctx context.Context, typeName, field string, child int, args map[string]any) (int, bool) {
	if c, ok := w.ExecutableSchema.Complexity(ctx, typeName, field, child, args); ok {
		return c, ok
	}
	n := pageArg(args, "first")
	if l := pageArg(args, "last"); l > n {
		n = l
	}
	if n == 0 {
		return 0, false
	}
	return 1 + n*max(child, 1), true
}

func pageArg(args map[string]any, k string) int {
	switch v := args[k].(type) {
	case int:
		return v
	case *int:
		if v != nil {
			return *v
		}
	case int64:
		return int(v)
	}
	return 0
}

// checkPageSize refuses first/last above MaxPageSize or below zero.
func checkPageSize(args map[string]any) error {
	for _, k := range [...]string{"first", "last"} {
		if v := pageArg(args, k); v > MaxPageSize || v < 0 {
			return apperr.Errorf(apperr.BadUserInput,
				"%s must be between 0 and %d, got %d", k, MaxPageSize, v)
		}
	}
	return nil
}

// depthLimit refuses operations nested deeper than Max levels.
type depthLimit struct{ Max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, map[string]bool{}); depth > d.Max {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("operation is nested %d levels deep, which exceeds the limit of %d", depth, d.Max),
			Extensions: map[string]any{"code": codeTooDeep},
		}
	}
	return nil
}

// selectionDepth counts field nesting; fragments count as their fields.
// Introspection is exempt: GraphiQL's query is deep by nature.
func selectionDepth(set ast.SelectionSet, seen map[string]bool) int {
	deepest := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				continue
			}
			d = 1 + selectionDepth(s.SelectionSet, seen)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, seen)
		case *ast.FragmentSpread:
			if seen[s.Name] || s.Definition == nil {
				continue
			}
			seen[s.Name] = true
			d = selectionDepth(s.Definition.SelectionSet, seen)
			delete(seen, s.Name)
		}
		deepest = max(deepest, d)
	}
	return deepest
}
