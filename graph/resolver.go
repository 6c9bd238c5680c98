// Package graph is the GraphQL layer: thin resolvers over internal services
// and ent, one error presenter, and the HTTP handler.
package graph

import (
	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/internal/execution"
	"github.com/attune-io/attune/internal/pack"
)

// Resolver holds the dependencies every resolver needs.
type Resolver struct {
	Client *ent.Client
	Packs  *pack.Service
	// Executions runs, cancels and streams executions.
	Executions *execution.Service
}

// deref reads an optional argument, the zero value when absent.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
