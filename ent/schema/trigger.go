package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Trigger is a kind of event: its payload schema and the parameters a rule
// may set on it (a timer's interval, say).
type Trigger struct{ ent.Schema }

// Mixin of the Trigger.
func (Trigger) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Trigger.
func (Trigger) Fields() []ent.Field {
	return append(componentFieldsMatching(triggerRefRE),
		field.Int("pack_id"),
		field.String("type").Default("custom").
			Comment("Informational: interval, cron, datetime, webhook, custom."),
		field.JSON("parameters_schema", map[string]any{}).Optional().
			Annotations(entgql.Type("JSON")),
		field.JSON("payload_schema", map[string]any{}).Optional().
			Annotations(entgql.Type("JSON")),
		field.Bool("webhook_enabled").Default(false),
		field.String("webhook_key").Default("").Sensitive().
			Annotations(entgql.Skip()).Comment("Shared secret for webhook requests."),
		field.Bool("enabled").Default(true),
	)
}

// Edges of the Trigger.
func (Trigger) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("pack", Pack.Type).Ref("triggers").Field("pack_id").Unique().Required(),
		edge.To("rules", Rule.Type).
			Annotations(entsql.OnDelete(entsql.SetNull), entgql.RelayConnection()),
		edge.To("events", Event.Type).
			Annotations(entsql.OnDelete(entsql.SetNull), entgql.RelayConnection()),
	}
}

// Annotations of the Trigger.
func (Trigger) Annotations() []schema.Annotation { return gql() }

// Policy of the Trigger: who may read it (privacy.go).
func (Trigger) Policy() ent.Policy { return readPolicy }
