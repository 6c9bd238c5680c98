package graph

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/ent/auditevent"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/auth"
	"github.com/attune-io/attune/internal/param"
)

// audited records a mutation (allowed or refused) and returns err as it was.
func (r *Resolver) audited(ctx context.Context, fc *graphql.FieldContext, p *auth.Principal, err error) error {
	if fc.Object != "Mutation" {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	args, _ := structToMap(fc.Args)
	c := r.Client.AuditEvent.Create().
		SetActor(p.Name).SetRole(string(p.Role)).SetOperation(fc.Field.Name).
		SetVariables(r.redactArgs(ctx, fc.Field.Name, args)).SetOutcome(auditevent.OutcomeOK)
	if graphql.HasOperationContext(ctx) {
		c.SetOperationName(graphql.GetOperationContext(ctx).OperationName)
	}
	if p.TokenID != 0 {
		c.SetActorTokenID(p.TokenID)
	}
	if err != nil {
		c.SetOutcome(auditevent.OutcomeERROR).SetErrorCode(string(apperr.CodeOf(err)))
	}
	if aerr := c.Exec(ctx); aerr != nil {
		// The mutation already happened; failing it now would lie. Log loudly.
		r.log().ErrorContext(ctx, "writing audit event", "operation", fc.Field.Name, "error", aerr)
	}
	return err
}

// secretName matches argument names whose string values are never stored.
var secretName = regexp.MustCompile(`(?i)password|secret|token|passphrase|credential`)

// redactArgs removes secrets from a mutation's arguments before they are
// stored: values of secret-sounding names, a secret key's value, and action
// parameters declared secret.
func (r *Resolver) redactArgs(ctx context.Context, field string, args map[string]any) map[string]any {
	redactNames(args)
	input, _ := args["input"].(map[string]any)
	if input == nil {
		return args
	}
	switch field {
	case "setKey":
		if s, _ := input["secret"].(bool); s {
			input["value"] = param.Redacted
		}
	case "executeAction":
		input["parameters"] = r.redactParams(ctx, input["action"], input["parameters"])
	case "createRule", "updateRule":
		input["actionParams"] = r.redactParams(ctx, input["action"], input["actionParams"])
	}
	return args
}

func redactNames(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if s, ok := val.(string); ok && secretName.MatchString(k) && s != "" {
				t[k] = param.Redacted
				continue
			}
			redactNames(val)
		}
	case []any:
		for _, e := range t {
			redactNames(e)
		}
	}
}

// redactParams redacts the parameters an action's schema marks secret; an
// unknown action's parameters are dropped rather than stored unchecked.
func (r *Resolver) redactParams(ctx context.Context, ref, params any) any {
	m, ok := params.(map[string]any)
	if !ok || m == nil {
		return params
	}
	refStr, _ := ref.(string)
	a, err := r.Client.Action.Query().Where(action.Ref(refStr)).Only(ctx)
	if err != nil {
		return param.Redacted
	}
	schema, err := param.ParseSchema(a.Parameters)
	if err != nil {
		return param.Redacted
	}
	return schema.Redact(m)
}

// structToMap reads a generated input struct (or map) through its JSON form.
func structToMap(v any) (map[string]any, bool) {
	if v == nil {
		return nil, false
	}
	b, err := json.Marshal(v)
	if err != nil || len(b) == 0 || !strings.HasPrefix(string(b), "{") {
		return nil, false
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, false
	}
	return m, true
}
