package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// Worker is a live worker process. It refreshes heartbeat_at while it runs;
// executions whose worker stopped heartbeating are ABANDONED, never rerun.
type Worker struct{ ent.Schema }

// Fields of the Worker.
func (Worker) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Unique().Comment("Identity recorded on the executions it runs."),
		field.String("hostname").Default(""),
		field.Int("pid").Default(0),
		field.Int("concurrency").Default(0),
		field.Time("started_at").Default(time.Now).Immutable(),
		field.Time("heartbeat_at").Default(time.Now),
	}
}

// Annotations of the Worker.
func (Worker) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the Worker: who may read it (privacy.go).
func (Worker) Policy() ent.Policy { return readPolicy }
