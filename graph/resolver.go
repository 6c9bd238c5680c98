// Package graph is the GraphQL layer: thin resolvers over internal services
// and ent, one error presenter, and the HTTP handler.
package graph

import (
	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/internal/pack"
)

// Resolver holds the dependencies every resolver needs.
type Resolver struct {
	Client *ent.Client
	Packs  *pack.Service
}

// deref reads an optional boolean argument.
func deref(b *bool) bool { return b != nil && *b }
