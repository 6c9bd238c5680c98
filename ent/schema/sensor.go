package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Sensor is a long-running pack process that emits events.
type Sensor struct{ ent.Schema }

// Mixin of the Sensor.
func (Sensor) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Sensor.
func (Sensor) Fields() []ent.Field {
	return append(componentFields(),
		field.Int("pack_id"),
		field.Enum("runner_type").Values(RunnerTypes...).Default("PYTHON"),
		field.String("runner_name").Default("").Comment("The runner_type as the pack wrote it (see Action.runner_name)."),
		field.String("entry_point").Default(""),
		field.String("class_name").Default("").Annotations(entgql.Skip()).
			Comment("A StackStorm Python sensor's class, run by attune's st2reactor wrapper; empty for attune's own sensors."),
		field.Int("poll_interval").Default(0).NonNegative().Annotations(entgql.Skip()).
			Comment("A StackStorm PollingSensor's seconds between polls; 0 for the class's own default."),
		field.Strings("trigger_types").Optional(),
		field.JSON("parameters", map[string]any{}).Optional().
			Annotations(entgql.Type("JSON")),
		field.JSON("config", map[string]any{}).Optional().
			Annotations(entgql.Type("JSON")),
		field.Bool("enabled").Default(true),
		field.Enum("status").Values("STOPPED", "STARTING", "RUNNING", "BACKOFF", "FAILED").
			Default("STOPPED"),
		field.String("last_error").Default(""),
		field.Int("restarts").Default(0),
	)
}

// Edges of the Sensor.
func (Sensor) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("pack", Pack.Type).Ref("sensors").Field("pack_id").Unique().Required(),
		edge.To("events", Event.Type).
			Annotations(entsql.OnDelete(entsql.SetNull), entgql.RelayConnection()),
	}
}

// Annotations of the Sensor.
func (Sensor) Annotations() []schema.Annotation { return gql() }

// Policy of the Sensor: who may read it (privacy.go).
func (Sensor) Policy() ent.Policy { return readPolicy }
