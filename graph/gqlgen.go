//go:build ignore

// gqlgen generates graph/generated.go, the models and the resolver stubs
// from gqlgen.yml, as `go tool gqlgen generate` does, plus one change:
// the fields of an object are resolved one after the other, not each in a
// goroutine. Run through `make generate` from the repository root.
//
// gqlgen starts a goroutine for every field bound to a method taking a
// context (every ent edge, e.g. Execution.parent) or to a resolver, on
// every object: a page of 100 executions with action, enforcement and
// parent started 200 of them besides the 100 of the list, each growing its
// stack from the minimum, for fields that only return what entgql's field
// collection already loaded. Root fields (Query, Subscription) and list
// elements keep gqlgen's concurrency; Mutation fields are sequential anyway.
package main

import (
	"log"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
)

func main() {
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		log.Fatalf("loading gqlgen.yml: %v", err)
	}
	if err := api.Generate(cfg, api.AddPlugin(sequentialFields{})); err != nil {
		log.Fatalf("running gqlgen: %v", err)
	}
}

// sequentialFields turns off per-field concurrency on every object but
// the query and subscription roots.
type sequentialFields struct{}

func (sequentialFields) Name() string { return "sequentialfields" }

func (sequentialFields) GenerateCode(data *codegen.Data) error {
	for _, o := range data.Objects {
		if o.Definition != data.Schema.Query && o.Definition != data.Schema.Subscription {
			o.DisableConcurrency = true
		}
	}
	return nil
}
