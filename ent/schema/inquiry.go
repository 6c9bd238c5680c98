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

// InquiryStatuses are an inquiry's states (docs/inquiries.md): PENDING
// until one answer, its timeout or a cancel ends it.
var InquiryStatuses = []string{"PENDING", "RESPONDED", "TIMEOUT", "CANCELED"}

// Inquiry is a question to a person that an execution waits on
// (StackStorm's core.ask, runner inquirer): the asking execution is
// PENDING until the inquiry is answered, times out or is canceled. It goes
// with its execution (CASCADE): alone it means nothing.
type Inquiry struct{ ent.Schema }

// Mixin of the Inquiry.
func (Inquiry) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Inquiry.
func (Inquiry) Fields() []ent.Field {
	return []ent.Field{
		field.Int("execution_id").Unique().Comment("The execution that asked (a core.ask run); PENDING while the inquiry is."),
		field.Int("workflow_id").Optional().Nillable().
			Comment("The workflow execution the asking execution is a task of; null outside workflows."),
		field.String("task_name").Default("").Comment("The workflow task that asked; empty outside workflows."),
		field.String("pack_ref").Default("").Comment("The pack of the top workflow that asked (the asking action's outside workflows): a token limited to that pack reads the inquiry."),
		field.Text("prompt").Default(""),
		field.JSON("response_schema", map[string]any{}).Annotations(entgql.Type("JSON")).
			Comment("JSON Schema the response is validated against."),
		field.Strings("assigned_users").Optional().Annotations(entgql.Skip()).
			Comment("Token names that may answer; anyone allowed when empty (with assigned_roles)."),
		field.Strings("assigned_roles").Optional().Annotations(entgql.Skip()).
			Comment("Roles that may answer (a role includes the ones below it)."),
		field.String("route").Default("").Comment("StackStorm's route: for rules routing the inquiry event."),
		field.Float("ttl").Default(1440).Comment("Minutes from creation until it times out (StackStorm's ttl; fractions allowed)."),
		field.Time("timeout_at").Annotations(entgql.OrderField("TIMEOUT_AT")),
		field.Enum("status").Values(InquiryStatuses...).Default("PENDING").Annotations(entgql.OrderField("STATUS")),
		field.JSON("response", map[string]any{}).Optional().Annotations(entgql.Type("JSON")),
		field.String("responded_by").Optional().Nillable().Comment("Name of the token that answered."),
		field.Time("responded_at").Optional().Nillable(),
	}
}

// Edges of the Inquiry.
func (Inquiry) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("execution", Execution.Type).Ref("inquiry").Field("execution_id").Unique().Required(),
		edge.From("workflow", Execution.Type).Ref("workflow_inquiries").Field("workflow_id").Unique(),
	}
}

// Indexes of the Inquiry: the pending ones are what a UI lists.
func (Inquiry) Indexes() []ent.Index {
	return []ent.Index{index.Fields("status", "timeout_at")}
}

// Annotations of the Inquiry.
func (Inquiry) Annotations() []schema.Annotation { return gql() }

// Policy of the Inquiry: who may read it (privacy.go).
func (Inquiry) Policy() ent.Policy { return readPolicy }

// inquiryEdges are the Execution's edges to its inquiries.
func inquiryEdges() []ent.Edge {
	return []ent.Edge{
		edge.To("inquiry", Inquiry.Type).Unique().
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("workflow_inquiries", Inquiry.Type).
			Annotations(entsql.OnDelete(entsql.SetNull), entgql.Skip(entgql.SkipAll)),
	}
}
