// Package inquiry runs the actions that ask a person (StackStorm's
// core.ask, runner inquirer) and the answers to them (docs/inquiries.md).
//
// An asking execution becomes PENDING with an Inquiry row in the same
// transaction, together with the inquiry's timeout job and its event on
// core.st2.generic.inquiry. One answer, the timeout or a cancel ends the
// inquiry with a compare-and-set on its status, and the execution with it
// (SUCCEEDED with the response in its result, TIMEOUT, CANCELED), in one
// transaction that also resumes the workflows the inquiry paused and
// wakes the one that asked.
package inquiry

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/attune-io/attune/internal/param"
)

// TriggerRef is the trigger an inquiry is emitted on, as in StackStorm, so
// rules route it (to chat, mail, a webhook).
const TriggerRef = "core.st2.generic.inquiry"

// DefaultTTL is StackStorm's inquiry ttl, in minutes.
const DefaultTTL = 1440

// Question is what an asking action's parameters ask: StackStorm's
// inquirer runner parameters (schema, roles, users, route, ttl) and
// attune's prompt.
type Question struct {
	Prompt string
	Schema map[string]any
	Users  []string
	Roles  []string
	Route  string
	// TTL is in minutes (fractions allowed).
	TTL float64
}

// defaultSchema is StackStorm's inquirer default: a boolean "continue".
func defaultSchema() map[string]any {
	return map[string]any{
		"title": "response_data", "type": "object",
		"properties": map[string]any{
			"continue": map[string]any{"type": "boolean", "description": "Would you like to continue the workflow?", "required": true},
		},
	}
}

// ParseQuestion reads a Question from an asking action's parameters
// (defaults applied), reporting every problem at once.
func ParseQuestion(params map[string]any) (Question, error) {
	q := Question{TTL: DefaultTTL}
	var probs []string
	switch s := params["schema"].(type) {
	case nil:
		q.Schema = defaultSchema()
	case map[string]any:
		q.Schema = s
	default:
		probs = append(probs, "schema: must be a JSON Schema object")
	}
	if q.Schema != nil {
		if s, err := param.ParseSchema(cloneMap(q.Schema)); err != nil {
			probs = append(probs, "schema: "+err.Error())
		} else {
			probs = append(probs, templateDefaults(s)...)
		}
	}
	var err error
	if q.Users, err = stringList(params["users"]); err != nil {
		probs = append(probs, "users: "+err.Error())
	}
	if q.Roles, err = stringList(params["roles"]); err != nil {
		probs = append(probs, "roles: "+err.Error())
	}
	for i, r := range q.Roles {
		q.Roles[i] = strings.ToUpper(r)
	}
	switch r := params["route"].(type) {
	case nil:
	case string:
		q.Route = r
	default:
		probs = append(probs, "route: must be a string")
	}
	switch t := params["ttl"].(type) {
	case nil:
	case float64:
		q.TTL = t
	case int:
		q.TTL = float64(t)
	case int64:
		q.TTL = float64(t)
	default:
		probs = append(probs, "ttl: must be a number of minutes")
	}
	if q.TTL <= 0 || math.IsNaN(q.TTL) || math.IsInf(q.TTL, 0) {
		probs = append(probs, "ttl: must be a positive number of minutes")
	}
	q.Prompt = promptOf(params, q.Schema)
	if len(probs) > 0 {
		return Question{}, fmt.Errorf("invalid inquiry: %s", strings.Join(probs, "; "))
	}
	return q, nil
}

// templateDefaults reports the defaults of s that look like templates
// (which ParseSchema leaves unchecked, to be rendered at run time) and do
// not fit their type: nothing renders a response schema, so such a
// default would go into the answer as it is.
func templateDefaults(s param.Schema) []string {
	var probs []string
	for _, name := range slices.Sorted(maps.Keys(s)) {
		spec := s[name]
		if !param.IsTemplate(spec.Default) {
			continue
		}
		var pe *param.Error
		if _, err := (param.Schema{name: spec}).Validate(map[string]any{name: spec.Default}); errors.As(err, &pe) {
			for _, f := range pe.Fields {
				probs = append(probs, fmt.Sprintf("schema: %s: default %s (a response schema is not rendered)", f.Field, f.Message))
			}
		}
	}
	return probs
}

// promptOf is the question shown to people: the prompt parameter, else
// the schema's description, else its title unless it is StackStorm's
// generic one.
func promptOf(params map[string]any, schema map[string]any) string {
	if p, ok := params["prompt"].(string); ok && p != "" {
		return p
	}
	if d, ok := schema["description"].(string); ok && d != "" {
		return d
	}
	if t, ok := schema["title"].(string); ok && t != "" && t != "response_data" {
		return t
	}
	return ""
}

// stringList reads a list of non-empty names into a new slice (the
// caller's is neither kept nor changed).
func stringList(v any) ([]string, error) {
	switch l := v.(type) {
	case nil:
		return nil, nil
	case []string:
		if slices.Contains(l, "") {
			return nil, fmt.Errorf("must be a list of names")
		}
		return slices.Clone(l), nil
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			s, ok := x.(string)
			if !ok || s == "" {
				return nil, fmt.Errorf("must be a list of names")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("must be a list of names")
}

// cloneMap copies m deeply enough for ParseSchema, which may rewrite it.
func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = cloneMap(sub)
		}
		out[k] = v
	}
	return out
}

// ValidateResponse checks a response against the inquiry's schema and
// returns it with the schema's defaults applied, or *param.Error listing
// every field it refuses.
func ValidateResponse(schema map[string]any, response map[string]any) (map[string]any, error) {
	s, err := param.ParseSchema(cloneMap(schema))
	if err != nil {
		return nil, err
	}
	if response == nil {
		response = map[string]any{}
	}
	return s.Validate(response)
}
