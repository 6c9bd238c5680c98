package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// WorkflowDefinition is a pack's workflow graph.
type WorkflowDefinition struct{ ent.Schema }

// Mixin of the WorkflowDefinition.
func (WorkflowDefinition) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the WorkflowDefinition.
func (WorkflowDefinition) Fields() []ent.Field {
	return append(componentFields(),
		field.Int("pack_id"),
		field.JSON("definition", map[string]any{}).Optional().Annotations(entgql.Type("JSON")),
	)
}

// Edges of the WorkflowDefinition.
func (WorkflowDefinition) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("pack", Pack.Type).Ref("workflow_definitions").Field("pack_id").
			Unique().Required(),
		edge.To("workflow_executions", WorkflowExecution.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.RelayConnection()),
	}
}

// Annotations of the WorkflowDefinition.
func (WorkflowDefinition) Annotations() []schema.Annotation { return gql() }

// WorkflowExecution is the state of one running workflow. It means nothing
// without its definition, so it goes with it (CASCADE).
type WorkflowExecution struct{ ent.Schema }

// Mixin of the WorkflowExecution.
func (WorkflowExecution) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the WorkflowExecution.
func (WorkflowExecution) Fields() []ent.Field {
	return []ent.Field{
		field.Int("workflow_definition_id").Optional().Nillable(),
		field.Int("execution_id").Optional().Nillable(),
		field.String("language").Default("").Comment("attune, orquesta or action-chain."),
		field.String("file").Default("").Comment("The workflow file, relative to its pack."),
		field.Text("source").Default("").
			Comment("The workflow file as it was when the workflow started: a pack upgrade does not change a running workflow."),
		field.JSON("state", map[string]any{}).Optional().Annotations(entgql.Type("JSON")),
		field.Enum("status").Values(ExecutionStatuses...).Default("REQUESTED").
			Annotations(entgql.OrderField("STATUS")),
	}
}

// Edges of the WorkflowExecution.
func (WorkflowExecution) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("workflow_definition", WorkflowDefinition.Type).Ref("workflow_executions").
			Field("workflow_definition_id").Unique(),
		edge.From("execution", Execution.Type).Ref("workflow_executions").
			Field("execution_id").Unique(),
	}
}

// Indexes of the WorkflowExecution: one workflow state per execution.
func (WorkflowExecution) Indexes() []ent.Index {
	return []ent.Index{index.Fields("execution_id").Unique()}
}

// Annotations of the WorkflowExecution.
func (WorkflowExecution) Annotations() []schema.Annotation { return gql() }

// Policy of the WorkflowDefinition: who may read it (privacy.go).
func (WorkflowDefinition) Policy() ent.Policy { return readPolicy }

// Policy of the WorkflowExecution: who may read it (privacy.go).
func (WorkflowExecution) Policy() ent.Policy { return readPolicy }
