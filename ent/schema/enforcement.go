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

// Enforcement records one rule's verdict on one event and why.
type Enforcement struct{ ent.Schema }

// Mixin of the Enforcement.
func (Enforcement) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Enforcement.
func (Enforcement) Fields() []ent.Field {
	return []ent.Field{
		field.Int("rule_id").Optional().Nillable(),
		field.String("rule_ref").Annotations(entgql.OrderField("RULE_REF")),
		field.Int("event_fk").Optional().Nillable().
			Annotations(entgql.Skip()).Comment("FK to the event; NULL once it is deleted."),
		field.Int("event_ref").Annotations(entgql.Skip()).
			Comment("The event's id, kept after the event is deleted (GraphQL eventId)."),
		field.Enum("status").Values("CREATED", "PROCESSED", "SKIPPED", "FAILED").Default("CREATED").
			Annotations(entgql.OrderField("STATUS")),
		field.String("reason").Default(""),
		field.JSON("parameters", map[string]any{}).Optional().Annotations(entgql.Type("JSON")).
			Comment("Rendered action parameters, secrets redacted."),
	}
}

// Edges of the Enforcement.
func (Enforcement) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("rule", Rule.Type).Ref("enforcements").Field("rule_id").Unique(),
		edge.From("event", Event.Type).Ref("enforcements").Field("event_fk").Unique(),
		edge.To("executions", Execution.Type).
			Annotations(entsql.OnDelete(entsql.SetNull), entgql.RelayConnection()),
	}
}

// Indexes of the Enforcement: one enforcement per rule and event, so a
// redelivered evaluation never doubles executions.
func (Enforcement) Indexes() []ent.Index {
	return []ent.Index{index.Fields("rule_ref", "event_ref").Unique()}
}

// Annotations of the Enforcement.
func (Enforcement) Annotations() []schema.Annotation { return gql() }

// Policy of the Enforcement: who may read it (privacy.go).
func (Enforcement) Policy() ent.Policy { return readPolicy }
