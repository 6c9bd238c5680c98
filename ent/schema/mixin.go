package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// TimeMixin gives every entity createdAt/updatedAt, orderable in GraphQL.
type TimeMixin struct{ mixin.Schema }

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Immutable().Default(time.Now).
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now).
			Annotations(entgql.OrderField("UPDATED_AT")),
	}
}

// RefPattern is what a pack ref must look like; component refs are "<pack>.<name>".
const RefPattern = `^[a-z][a-z0-9_-]{1,63}$`

// ComponentRefPattern is the shape of an action, trigger, sensor, rule or workflow ref.
const ComponentRefPattern = `^[a-z][a-z0-9_-]{1,63}\.[a-z0-9][a-z0-9_-]{0,127}$`

// componentFields are shared by the components a pack owns.
func componentFields() []ent.Field {
	return []ent.Field{
		field.String("ref").Unique().Match(componentRefRE).
			Annotations(entgql.OrderField("REF")),
		field.String("pack_ref").Annotations(entgql.OrderField("PACK_REF")),
		field.String("label").Default(""),
		field.String("description").Default(""),
	}
}

// gql are the annotations every top-level entity carries: a Relay connection
// query field and where/order inputs.
func gql() []schemaAnnotation {
	return []schemaAnnotation{entgql.QueryField(), entgql.RelayConnection()}
}
