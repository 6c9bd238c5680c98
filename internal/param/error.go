package param

import (
	"cmp"
	"slices"
	"strings"
)

// FieldError is one problem with one parameter (or with a schema entry), so callers such as
// the GraphQL layer can point at the offending field.
type FieldError struct {
	Field   string
	Message string
}

// String renders the error as "field: message".
func (e FieldError) String() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Error lists every problem found in one pass, so users fix all of them at once instead of
// one per attempt. Fields are sorted by field name, then message.
type Error struct {
	Fields []FieldError
}

// newError sorts errs into a stable order and wraps them.
func newError(errs []FieldError) *Error {
	slices.SortFunc(errs, func(a, b FieldError) int {
		return cmp.Or(cmp.Compare(a.Field, b.Field), cmp.Compare(a.Message, b.Message))
	})
	return &Error{Fields: errs}
}

// Error joins all field errors into one line.
func (e *Error) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.String()
	}
	return strings.Join(parts, "; ")
}
