package graph

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/attune-io/attune/internal/metrics"
)

// operationMetrics counts every GraphQL operation with its latency: by
// operation name when the name is one of known (the operations of our own
// clients and of the persisted-query allowlist), else "other" ("anonymous"
// without a name), so a client cannot grow the label without bound; by
// type; and by the code of the first error.
//
// Queries and mutations, and requests refused before they ran (parse and
// validation errors), are seen by the response interceptor; a subscription
// is counted once, with its first response, by the operation interceptor.
type operationMetrics struct {
	m     *metrics.Metrics
	known map[string]bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
	graphql.ResponseInterceptor
} = operationMetrics{}

func (operationMetrics) ExtensionName() string                   { return "OperationMetrics" }
func (operationMetrics) Validate(graphql.ExecutableSchema) error { return nil }
func (o operationMetrics) name(oc *graphql.OperationContext) string {
	name := oc.OperationName
	if name == "" && oc.Operation != nil {
		name = oc.Operation.Name
	}
	switch {
	case name == "":
		return "anonymous"
	case o.known[name]:
		return name
	}
	return metrics.Other
}

// InterceptOperation counts a subscription with its first response.
func (o operationMetrics) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	h := next(ctx)
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return h
	}
	var once sync.Once
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		once.Do(func() {
			var errs gqlerror.List
			if resp != nil {
				errs = resp.Errors
			}
			o.record(oc, errs)
		})
		return resp
	}
}

// InterceptResponse counts queries, mutations and refused requests.
func (o operationMetrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if !graphql.HasOperationContext(ctx) {
		return resp
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		return resp
	}
	var errs gqlerror.List
	if resp != nil {
		errs = resp.Errors
	}
	o.record(oc, errs)
	return resp
}

func (o operationMetrics) record(oc *graphql.OperationContext, errs gqlerror.List) {
	typ := "unknown"
	if oc.Operation != nil {
		typ = string(oc.Operation.Operation)
	}
	code := "none"
	if len(errs) > 0 {
		code = metrics.Other
		if c, ok := errs[0].Extensions["code"].(string); ok && c != "" {
			code = c
		}
	}
	start := oc.Stats.OperationStart
	if start.IsZero() {
		start = time.Now()
	}
	o.m.GraphQLOperation(o.name(oc), typ, code, time.Since(start))
}

// OperationNames lists the names of the operations in GraphQL documents
// (a client's operations, a persisted-query allowlist); a document that
// does not parse adds none.
func OperationNames(docs ...string) []string {
	var names []string
	for _, d := range docs {
		doc, err := parser.ParseQuery(&ast.Source{Input: d})
		if err != nil {
			continue
		}
		for _, op := range doc.Operations {
			if op.Name != "" {
				names = append(names, op.Name)
			}
		}
	}
	return names
}
