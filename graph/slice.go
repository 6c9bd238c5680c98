package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
)

// listWorkers bounds the goroutines that resolve the elements of one list.
const listWorkers = 8

// marshalSlice is what graph/gqlgen.go makes generated code call in place
// of graphql.MarshalSliceConcurrently, with its signature and its results
// (every element set; a panicking element is null, with its error, unless
// omitPanicHandler). gqlgen starts a goroutine per element, each growing a
// fresh stack: on a page of 100 executions that was a tenth of the CPU.
// Here at most listWorkers goroutines (workerLimit if set) take the
// elements in turn, so stacks grow once per worker, and elements that do
// I/O (an edge not loaded, a resolver) still overlap.
func marshalSlice(ctx context.Context, length int, workerLimit int64, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler,
) graphql.Array {
	ret := make(graphql.Array, length)
	one := func(i int) {
		childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
		if !omitPanicHandler {
			defer func() {
				if r := recover(); r != nil {
					graphql.AddError(childCtx, graphql.Recover(childCtx, r))
					ret[i] = graphql.Null
				}
			}()
		}
		ret[i] = marshalElement(childCtx, i)
	}
	workers := listWorkers
	if workerLimit > 0 {
		workers = int(min(workerLimit, listWorkers))
	}
	workers = min(workers, length)
	if workers <= 1 {
		for i := range length {
			one(i)
		}
		return ret
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < length; i += workers {
				one(i)
			}
		})
	}
	wg.Wait()
	return ret
}
