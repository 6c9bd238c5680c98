package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Pack is an installed bundle of actions, triggers, sensors, rules and
// workflows. Deleting it cascades to everything it owns; history rows that
// pointed at its components keep their text refs.
type Pack struct{ ent.Schema }

// Mixin of the Pack.
func (Pack) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the Pack.
func (Pack) Fields() []ent.Field {
	return []ent.Field{
		field.String("ref").Unique().Match(packRefRE).Annotations(entgql.OrderField("REF")),
		field.String("label").Default(""),
		field.String("description").Default(""),
		field.String("version").Default("0.0.0"),
		field.String("author").Default(""),
		field.JSON("conf_schema", map[string]any{}).Optional().
			Annotations(entgql.Type("JSON")),
		field.JSON("config", map[string]any{}).Optional().Annotations(entgql.Skip()).
			Comment("The operator's config without its secret fields (sealed in config_secrets). GraphQL shows secrets to ADMIN only."),
		field.Text("config_secrets").Default("").Sensitive().Annotations(entgql.Skip()).
			Comment("base64(nonce || AES-256-GCM(JSON)) of the config's secret fields, sealed like secret keys."),
		field.String("config_file_checksum").Default("").Annotations(entgql.Skip()).
			Comment("sha256 of the configs/<pack>.yaml an install last applied: an unchanged file is not applied again."),
		field.Strings("tags").Optional(),
		field.Bool("system").Default(false).
			Comment("Built-in pack shipped with the server (core)."),
		field.String("source").Default("").
			Comment("Where the pack was installed from, credentials redacted."),
		field.String("path").Default("").Comment("Permanent directory on disk."),
		field.String("checksum").Default("").Comment("sha256 of the pack's files."),
		field.Time("installed_at").Optional().Nillable().
			Annotations(entgql.OrderField("INSTALLED_AT")),
		field.Enum("env_status").Values("NONE", "PENDING", "READY", "FAILED").Default("NONE").
			Comment("State of the runtime environment (venv, node_modules)."),
		field.String("env_path").Default(""),
		field.String("env_error").Default(""),
		field.String("env_checksum").Default("").
			Comment("Checksum of the requirements the environment was built from."),
	}
}

// Edges of the Pack.
func (Pack) Edges() []ent.Edge {
	cascade := []schema.Annotation{entsql.OnDelete(entsql.Cascade), entgql.RelayConnection()}
	return []ent.Edge{
		edge.To("actions", Action.Type).Annotations(cascade...),
		edge.To("triggers", Trigger.Type).Annotations(cascade...),
		edge.To("sensors", Sensor.Type).Annotations(cascade...),
		edge.To("rules", Rule.Type).Annotations(cascade...),
		edge.To("workflow_definitions", WorkflowDefinition.Type).Annotations(cascade...),
		edge.To("policies", ActionPolicy.Type).Annotations(cascade...),
	}
}

// Annotations of the Pack.
func (Pack) Annotations() []schema.Annotation { return gql() }

// Policy of the Pack: who may read it (privacy.go).
func (Pack) Policy() ent.Policy { return readPolicy }
