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

// Event is one occurrence of a trigger. It is history: deleting its trigger
// or its source sensor keeps the event with the refs.
type Event struct{ ent.Schema }

// Mixin of the Event.
func (Event) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Event.
func (Event) Fields() []ent.Field {
	return []ent.Field{
		field.Int("trigger_id").Optional().Nillable(),
		field.String("trigger_ref").Annotations(entgql.OrderField("TRIGGER_REF")),
		field.Int("source_id").Optional().Nillable(),
		field.String("source_ref").Default("").
			Comment("The sensor ref, or webhook, api, timer."),
		field.JSON("payload", map[string]any{}).Optional().Annotations(entgql.Type("JSON")),
		field.String("rule_ref").Default("").
			Comment("Set when the event is meant for one rule only (a timer tick); empty means every rule of the trigger."),
		field.String("dedupe_key").Optional().Nillable().Unique().Annotations(entgql.Skip()).
			Comment("Set by sources that may emit the same occurrence twice (a timer tick after a leader handover); unique, so it is stored once."),
	}
}

// Edges of the Event.
func (Event) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("trigger", Trigger.Type).Ref("events").Field("trigger_id").Unique(),
		edge.From("source", Sensor.Type).Ref("events").Field("source_id").Unique(),
		edge.To("enforcements", Enforcement.Type).
			Annotations(entsql.OnDelete(entsql.SetNull), entgql.RelayConnection()),
	}
}

// Indexes of the Event.
func (Event) Indexes() []ent.Index {
	return []ent.Index{index.Fields("trigger_ref", "created_at")}
}

// Annotations of the Event.
func (Event) Annotations() []schema.Annotation { return gql() }

// Policy of the Event: who may read it (privacy.go).
func (Event) Policy() ent.Policy { return readPolicy }
