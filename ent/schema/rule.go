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

// Rule binds a trigger to an action: events of the trigger that match the
// criteria enforce the action with rendered parameters. Its action and
// trigger edges go NULL when those are deleted; the refs stay, and the
// enforcement processor skips such a rule with a reason.
type Rule struct{ ent.Schema }

// Mixin of the Rule.
func (Rule) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Rule.
func (Rule) Fields() []ent.Field {
	return []ent.Field{
		field.String("ref").Unique().Annotations(entgql.OrderField("REF")),
		field.String("pack_ref").Default("").Annotations(entgql.OrderField("PACK_REF")).
			Comment("Empty for rules created through the API without a pack."),
		field.String("label").Default(""),
		field.String("description").Default(""),
		field.Int("pack_id").Optional().Nillable(),
		field.Int("action_id").Optional().Nillable(),
		field.String("action_ref"),
		field.Int("trigger_id").Optional().Nillable(),
		field.String("trigger_ref"),
		field.JSON("criteria", map[string]any{}).Optional().Annotations(entgql.Type("JSON")),
		field.JSON("action_params", map[string]any{}).Optional().Annotations(entgql.Type("JSON")),
		field.JSON("trigger_params", map[string]any{}).Optional().Annotations(entgql.Type("JSON")),
		field.Bool("enabled").Default(true),
	}
}

// Edges of the Rule.
func (Rule) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("pack", Pack.Type).Ref("rules").Field("pack_id").Unique(),
		edge.From("action", Action.Type).Ref("rules").Field("action_id").Unique(),
		edge.From("trigger", Trigger.Type).Ref("rules").Field("trigger_id").Unique(),
		edge.To("enforcements", Enforcement.Type).
			Annotations(entsql.OnDelete(entsql.SetNull), entgql.RelayConnection()),
	}
}

// Annotations of the Rule.
func (Rule) Annotations() []schema.Annotation { return gql() }

// Indexes of the Rule: every event's evaluation looks up the enabled rules
// of its trigger.
func (Rule) Indexes() []ent.Index {
	return []ent.Index{index.Fields("trigger_ref", "enabled")}
}

// Policy of the Rule: who may read it (privacy.go).
func (Rule) Policy() ent.Policy { return readPolicy }
