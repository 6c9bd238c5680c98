package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// ExecutionSecret holds the plaintext of an execution's secret parameters
// between the request and the start of its run, kept apart from
// Execution.parameters (which stores them redacted). The worker deletes the
// row in the transaction that claims the execution, so a secret lives in the
// database only while the execution is queued. Never exposed in GraphQL.
type ExecutionSecret struct{ ent.Schema }

// Fields of the ExecutionSecret.
func (ExecutionSecret) Fields() []ent.Field {
	return []ent.Field{
		field.Int("execution_id").Unique(),
		field.Bytes("sealed").Sensitive().
			Comment("The secret parameters as a JSON object, sealed by the execution service."),
	}
}

// Edges of the ExecutionSecret.
func (ExecutionSecret) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("execution", Execution.Type).Ref("secret").Field("execution_id").
			Unique().Required(),
	}
}

// Annotations of the ExecutionSecret.
func (ExecutionSecret) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the ExecutionSecret: who may read it (privacy.go).
func (ExecutionSecret) Policy() ent.Policy { return readPolicy }
