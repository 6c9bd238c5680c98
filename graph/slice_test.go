package graph

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
)

// TestMarshalSlice: every element in its place, with its index on its
// context; a panicking one is null and reported once.
func TestMarshalSlice(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 2, listWorkers + 3, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, graphql.DefaultRecover)
			got := marshalSlice(ctx, n, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
				if i == 1 {
					panic("element 1")
				}
				return graphql.MarshalInt(*graphql.GetFieldContext(ctx).Index)
			})
			want := "["
			for i := range n {
				if i > 0 {
					want += ","
				}
				if i == 1 {
					want += "null"
				} else {
					want += fmt.Sprint(i)
				}
			}
			var b bytes.Buffer
			got.MarshalGQL(&b)
			require.Equal(t, want+"]", b.String())
			if n > 1 {
				require.Len(t, graphql.GetErrors(ctx), 1, "the panic is reported once")
			}
		})
	}
}
