package schema

import (
	"regexp"

	"entgo.io/ent/schema"
)

type schemaAnnotation = schema.Annotation

var (
	packRefRE      = regexp.MustCompile(RefPattern)
	componentRefRE = regexp.MustCompile(ComponentRefPattern)
	triggerRefRE   = regexp.MustCompile(TriggerRefPattern)
)
