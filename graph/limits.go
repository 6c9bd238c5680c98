package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/attune-io/attune/internal/apperr"
)

// MaxPageSize caps first/last on every connection.
const MaxPageSize = 1000

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
