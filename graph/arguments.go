package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/textlimit"
)

// DefaultMaxFilterPredicates caps a where argument: SQLite refuses
// expressions nested deeper than 1,000 (a long or list is that deep), and
// a filter this large is a scan by another name.
const DefaultMaxFilterPredicates = 500

// argumentLimits refuses, before any resolver runs, arguments too large
// to act on: a where filter of more than maxPredicates predicates (each
// value of and/or/not and of every field predicate, list items counted one
// by one), which would otherwise build SQL the database refuses; and a
// mutation's text over its textlimit (refs and names, descriptions,
// sources, JSON documents), which would be stored. Both are
// BAD_USER_INPUT naming the argument and the limit.
type argumentLimits struct {
	maxPredicates int
	schema        *ast.Schema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = argumentLimits{}

func (argumentLimits) ExtensionName() string { return "ArgumentLimits" }
func (argumentLimits) Validate(graphql.ExecutableSchema) error {
	return nil
}

func (a argumentLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	w := argWalk{limits: a, vars: oc.Variables, seen: map[string]bool{}, doc: oc.Doc}
	return w.set(oc.Operation.SelectionSet, oc.Operation.Operation == ast.Mutation)
}

type argWalk struct {
	limits argumentLimits
	vars   map[string]any
	seen   map[string]bool
	doc    *ast.QueryDocument
}

// set checks the arguments of every field in set; root fields of a
// mutation have their text checked too.
func (w *argWalk) set(set ast.SelectionSet, mutationRoot bool) *gqlerror.Error {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			for _, arg := range s.Arguments {
				if err := w.argument(s, arg, mutationRoot); err != nil {
					return err
				}
			}
			if err := w.set(s.SelectionSet, false); err != nil {
				return err
			}
		case *ast.InlineFragment:
			if err := w.set(s.SelectionSet, mutationRoot); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			// A fragment's arguments are the same wherever it is spread
			// (variables are the operation's): check each once.
			if w.seen[s.Name] {
				continue
			}
			w.seen[s.Name] = true
			def := s.Definition
			if def == nil && w.doc != nil {
				def = w.doc.Fragments.ForName(s.Name)
			}
			if def != nil {
				if err := w.set(def.SelectionSet, mutationRoot); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (w *argWalk) argument(f *ast.Field, arg *ast.Argument, mutationRoot bool) *gqlerror.Error {
	if arg.Value == nil || arg.Value.ExpectedType == nil {
		return nil
	}
	typeName := arg.Value.ExpectedType.Name()
	isFilter := strings.HasSuffix(typeName, "WhereInput")
	if !isFilter && !mutationRoot {
		return nil
	}
	v, err := arg.Value.Value(w.vars)
	if err != nil {
		return nil // coercion reports it
	}
	if isFilter {
		if n := predicates(v); n > w.limits.maxPredicates {
			return badInput(fmt.Sprintf("%s.%s", f.Name, arg.Name),
				fmt.Sprintf("has %d predicates; the limit is %d", n, w.limits.maxPredicates), w.limits.maxPredicates)
		}
		return nil
	}
	return w.text(f.Name+"."+arg.Name, arg.Name, arg.Value.ExpectedType, v)
}

// predicates counts the leaves of a filter value: every field predicate,
// and every item of a list (an in, an or) on its own.
func predicates(v any) int {
	switch t := v.(type) {
	case map[string]any:
		n := 0
		for _, item := range t {
			n += predicates(item)
		}
		return n
	case []any:
		n := 0
		for _, item := range t {
			n += predicates(item)
		}
		return n
	case nil:
		return 0
	}
	return 1
}

// text checks a mutation argument's value of type ty against the
// textlimit of its field name; path names it in the error.
func (w *argWalk) text(path, name string, ty *ast.Type, v any) *gqlerror.Error {
	if v == nil || ty == nil {
		return nil
	}
	if ty.Elem != nil {
		list, _ := v.([]any)
		for i, item := range list {
			if err := w.text(fmt.Sprintf("%s[%d]", path, i), name, ty.Elem, item); err != nil {
				return err
			}
		}
		return nil
	}
	switch ty.NamedType {
	case "String":
		s, _ := v.(string)
		limit := textlimit.ForField(name)
		if msg := textlimit.Check(len(s), limit); msg != "" {
			return badInput(path, msg, limit)
		}
	case "JSON", "AnyJSON":
		var n byteCounter
		if err := json.NewEncoder(&n).Encode(v); err == nil {
			if msg := textlimit.Check(int(n)-1, textlimit.JSONBytes); msg != "" {
				return badInput(path, "as JSON "+msg, textlimit.JSONBytes)
			}
		}
	default:
		def := w.limits.schema.Types[ty.NamedType]
		m, ok := v.(map[string]any)
		if def == nil || def.Kind != ast.InputObject || !ok {
			return nil
		}
		for _, field := range def.Fields {
			if err := w.text(path+"."+field.Name, field.Name, field.Type, m[field.Name]); err != nil {
				return err
			}
		}
	}
	return nil
}

// byteCounter counts what is written to it.
type byteCounter int

func (c *byteCounter) Write(p []byte) (int, error) {
	*c += byteCounter(len(p))
	return len(p), nil
}

func badInput(path, msg string, limit int) *gqlerror.Error {
	return &gqlerror.Error{
		Message: path + " " + msg,
		Extensions: map[string]any{
			"code":  string(apperr.BadUserInput),
			"field": path,
			"limit": limit,
		},
	}
}
