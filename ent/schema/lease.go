package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// Lease gives one node at a time a named duty (firing timers, running one
// sensor) across all nodes sharing the database. The holder renews it
// before it expires; when the holder dies, another node takes it over once
// it has expired.
type Lease struct{ ent.Schema }

// Fields of the Lease.
func (Lease) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Unique(),
		field.String("holder"),
		field.Time("expires_at"),
	}
}

// Annotations of the Lease: internal bookkeeping, not part of the API.
func (Lease) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the Lease: who may read it (privacy.go).
func (Lease) Policy() ent.Policy { return readPolicy }
