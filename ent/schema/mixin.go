package schema

import (
	"regexp"
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

// TriggerRefPattern is the shape of a trigger ref: a component ref whose
// name may also hold dots and capitals, as StackStorm's trigger names do
// (core.st2.IntervalTimer, linux.file_watch.line).
const TriggerRefPattern = `^[a-z][a-z0-9_-]{1,63}\.[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`

// componentFields are shared by the components a pack owns.
func componentFields() []ent.Field { return componentFieldsMatching(componentRefRE) }

// componentFieldsMatching is componentFields with refs matching re.
func componentFieldsMatching(re *regexp.Regexp) []ent.Field {
	return []ent.Field{
		field.String("ref").Unique().Match(re).
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
