//go:build ignore

// gqlgen generates graph/generated.go, the models and the resolver stubs
// from gqlgen.yml, as `go tool gqlgen generate` does, with three changes
// that make a page of objects cheaper to resolve. Run through
// `make generate` from the repository root.
//
//  1. The fields of an object are resolved one after the other, not each
//     in a goroutine. gqlgen starts a goroutine for every field bound to a
//     method taking a context (every ent edge, e.g. Execution.parent) or to
//     a resolver, on every object: a page of 100 executions with action,
//     enforcement and parent started 200 of them besides the 100 of the
//     list, each growing its stack from the minimum, for fields that only
//     return what entgql's field collection already loaded. Root fields
//     (Query, Subscription) keep gqlgen's concurrency; Mutation fields are
//     sequential anyway.
//  2. Objects no longer build a @defer group each: only a field resolved
//     concurrently can be deferred, so after 1 the group is always empty,
//     yet building it (its path, a field set, a map) was a fifth of the
//     allocations of that page. A sequential field under @defer is sent in
//     the first payload, which the spec allows.
//  3. The elements of a list are resolved by at most a few goroutines
//     (marshalSlice in graph/slice.go), not one goroutine each: the 100 of
//     that page were a tenth of its CPU, growing their stacks.
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"

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
	if err := rewrite(cfg.Exec.Filename); err != nil {
		log.Fatal(err)
	}
}

// rewrite makes changes 2 and 3 to the generated file.
func rewrite(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if src, err = dropDeferredGroups(path, src); err != nil {
		return err
	}
	if src, err = replace(path, src, "graphql.MarshalSliceConcurrently(", "marshalSlice("); err != nil {
		return err
	}
	return os.WriteFile(path, src, 0o644)
}

// replace replaces every old with new in src, which must hold old.
func replace(path string, src []byte, old, new string) ([]byte, error) {
	if !bytes.Contains(src, []byte(old)) {
		return nil, fmt.Errorf("%s: no %s to replace: gqlgen's output changed; see graph/gqlgen.go", path, old)
	}
	return bytes.ReplaceAll(src, []byte(old), []byte(new)), nil
}

// dropDeferredGroups replaces each object's NewDeferredGroup with an empty
// group, after checking nothing can add to it (every use is &deferred).
func dropDeferredGroups(path string, src []byte) ([]byte, error) {
	if bytes.Contains(src, []byte("&deferred")) {
		return nil, fmt.Errorf("%s defers fields again (&deferred): its groups cannot be dropped; see graph/gqlgen.go", path)
	}
	return replace(path, src, "deferred := graphql.NewDeferredGroup(ctx)", "var deferred graphql.DeferredGroup")
}

// sequentialFields turns off per-field concurrency on every object but
// the query and subscription roots (change 1).
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
