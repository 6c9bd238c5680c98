package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// ExecutionOutput is one line of an execution's stdout or stderr, stored as
// it arrives so that subscribers on any node can stream it live and resume
// from a line number. It is not a GraphQL entity: the executionOutput
// subscription serves it.
type ExecutionOutput struct{ ent.Schema }

// Fields of the ExecutionOutput.
func (ExecutionOutput) Fields() []ent.Field {
	return []ent.Field{
		field.Int("execution_id"),
		field.Int("seq").NonNegative().Comment("Line number within the execution, from 0, across both streams."),
		field.Enum("stream").Values("stdout", "stderr"),
		field.Text("line"),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Edges of the ExecutionOutput.
func (ExecutionOutput) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("execution", Execution.Type).Ref("output").Field("execution_id").
			Unique().Required(),
	}
}

// Indexes of the ExecutionOutput.
func (ExecutionOutput) Indexes() []ent.Index {
	return []ent.Index{index.Fields("execution_id", "seq").Unique()}
}

// Annotations of the ExecutionOutput.
func (ExecutionOutput) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the ExecutionOutput: who may read it (privacy.go).
func (ExecutionOutput) Policy() ent.Policy { return readPolicy }
