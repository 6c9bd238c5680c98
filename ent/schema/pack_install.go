package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// PackInstall records one install attempt and its progress. It has no FK to
// the pack on purpose: a failed install leaves no pack, but the record stays.
type PackInstall struct{ ent.Schema }

// Mixin of the PackInstall.
func (PackInstall) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of the PackInstall.
func (PackInstall) Fields() []ent.Field {
	return []ent.Field{
		field.String("source").Comment("Where from, credentials redacted."),
		field.String("pack_ref").Default(""),
		field.String("version").Default(""),
		field.Bool("force").Default(false),
		field.Enum("status").Values("PENDING", "RUNNING", "SUCCEEDED", "FAILED").Default("PENDING").
			Annotations(entgql.OrderField("STATUS")),
		field.String("step").Default("").Comment("The step under way, or the one that failed."),
		field.JSON("steps", []map[string]any{}).Optional().Annotations(entgql.Type("[JSON!]")).
			Comment("The steps so far, each {name, status (running, done, failed), startedAt, durationMs, error}; the environment step adds the last lines pip or npm printed (output, at most 10) and how many it printed (outputLines), updated as they come; the step an invalid pack failed lists its problems (problems, each {file, line, field, message} and task for one in a workflow's task)."),
		field.Text("error").Default(""),
		field.Strings("warnings").Optional().
			Comment("What an operator should know about the installed pack (a secret StackStorm's convention puts on a command line, a rule naming an action or trigger not installed yet…); warnings do not stop an install."),
		field.Time("started_at").Default(time.Now),
		field.Time("finished_at").Optional().Nillable(),
		field.String("env_path").Default("").Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("The environment directory the install builds, removed with its other files if the install dies."),
	}
}

// Annotations of the PackInstall.
func (PackInstall) Annotations() []schema.Annotation { return gql() }

// Policy of the PackInstall: who may read it (privacy.go).
func (PackInstall) Policy() ent.Policy { return readPolicy }
