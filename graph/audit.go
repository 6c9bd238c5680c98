package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/ent/auditevent"
	entpack "github.com/attune-io/attune/ent/pack"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/auth"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/store"
)

// audited records a mutation (allowed or refused) and returns err as it was.
func (r *Resolver) audited(ctx context.Context, fc *graphql.FieldContext, p *auth.Principal, err error) error {
	if fc.Object != "Mutation" {
		return err
	}
	return r.auditedIn(ctx, fc, p, r.auditPack(ctx, fc), err)
}

// auditedIn is audited with the pack the mutation concerned.
func (r *Resolver) auditedIn(ctx context.Context, fc *graphql.FieldContext, p *auth.Principal, pack string, err error) error {
	ctx = context.WithoutCancel(ctx)
	if aerr := r.auditRow(ctx, r.Client, fc, p, pack, err).Exec(ctx); aerr != nil {
		// The mutation already happened; failing it now would lie. Log loudly.
		r.log().ErrorContext(ctx, "writing audit event", "operation", fc.Field.Name, "error", aerr)
	}
	return err
}

// auditing runs an allowed mutation with its audit record owed to the
// first transaction that commits on its behalf (store.WithPreCommit): the
// record and the mutation's writes commit together, in one commit. A
// mutation that wrote in no transaction, or failed, is recorded alone after
// it (a failure after its transaction committed gets that record too).
func (r *Resolver) auditing(ctx context.Context, fc *graphql.FieldContext, p *auth.Principal, next graphql.Resolver) (any, error) {
	if fc.Object != "Mutation" {
		return next(ctx)
	}
	// Read before the mutation runs: a delete leaves nothing to read after.
	pack := r.auditPack(ctx, fc)
	ctx, pre := store.WithPreCommit(ctx, func(ctx context.Context, tx *store.Tx) error {
		if err := r.auditRow(ctx, tx.Ent, fc, p, pack, nil).Exec(ctx); err != nil {
			return fmt.Errorf("writing audit event: %w", err)
		}
		return nil
	})
	res, err := next(ctx)
	if pre.Seal() && err == nil {
		return res, nil
	}
	return res, r.auditedIn(ctx, fc, p, pack, err)
}

// auditPack is the pack a mutation concerns, for pack-limited tokens to
// read its record: that of the first pack or component ref among its
// arguments, or of the row its id argument names; empty for none.
func (r *Resolver) auditPack(ctx context.Context, fc *graphql.FieldContext) string {
	var refs []string
	collectRefs(fc.Args, &refs)
	for _, ref := range refs {
		if pack, _, _ := strings.Cut(ref, "."); pack != "" {
			return pack
		}
	}
	id, ok := fc.Args["id"].(int)
	if !ok {
		return ""
	}
	n, err := r.Client.Noder(auth.SystemContext(ctx), id)
	if err != nil {
		return ""
	}
	var ref string
	switch n := n.(type) {
	case *ent.Pack:
		return n.Ref
	case *ent.Execution:
		return n.PackRef
	case *ent.PackInstall:
		return n.PackRef
	case *ent.Event:
		ref = n.TriggerRef
	case *ent.Enforcement:
		ref = n.RuleRef
	}
	pack, _, _ := strings.Cut(ref, ".")
	return pack
}

// auditRow is the audit record of a mutation that ended with err, built on
// c (the database, or the transaction it commits in).
func (r *Resolver) auditRow(ctx context.Context, c *ent.Client, fc *graphql.FieldContext, p *auth.Principal, pack string, err error) *ent.AuditEventCreate {
	args, _ := structToMap(fc.Args)
	row := c.AuditEvent.Create().SetPackRef(pack).
		SetActor(p.Name).SetRole(string(p.Role)).SetOperation(fc.Field.Name).
		SetVariables(redactArgs(ctx, c, fc.Field.Name, args)).SetOutcome(auditevent.OutcomeOK)
	if graphql.HasOperationContext(ctx) {
		row.SetOperationName(graphql.GetOperationContext(ctx).OperationName)
	}
	if p.TokenID != 0 {
		row.SetActorTokenID(p.TokenID)
	}
	if err != nil {
		row.SetOutcome(auditevent.OutcomeERROR).SetErrorCode(string(apperr.CodeOf(err)))
	}
	return row
}

// secretName matches argument names whose string values are never stored.
var secretName = regexp.MustCompile(`(?i)password|secret|token|passphrase|credential`)

// redactArgs removes secrets from a mutation's arguments before they are
// stored: values of secret-sounding names, a secret key's value, and action
// parameters declared secret.
func redactArgs(ctx context.Context, c *ent.Client, field string, args map[string]any) map[string]any {
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
		input["parameters"] = redactParams(ctx, c, input["action"], input["parameters"])
	case "createRule", "updateRule":
		input["actionParams"] = redactParams(ctx, c, input["action"], input["actionParams"])
	case "setPackConfig":
		input["config"] = redactConfig(ctx, c, input["pack"], input["config"])
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
func redactParams(ctx context.Context, c *ent.Client, ref, params any) any {
	m, ok := params.(map[string]any)
	if !ok || m == nil {
		return params
	}
	refStr, _ := ref.(string)
	a, err := c.Action.Query().Where(action.Ref(refStr)).Only(ctx)
	if err != nil {
		return param.Redacted
	}
	schema, err := param.ParseSchema(a.Parameters)
	if err != nil {
		return param.Redacted
	}
	return schema.Redact(m)
}

// redactConfig masks a pack config's secret fields by the pack's schema;
// without the schema, the whole config.
func redactConfig(ctx context.Context, c *ent.Client, ref, config any) any {
	m, ok := config.(map[string]any)
	if !ok || m == nil {
		return config
	}
	refStr, _ := ref.(string)
	p, err := c.Pack.Query().Where(entpack.Ref(refStr)).Only(ctx)
	if err != nil {
		return param.Redacted
	}
	schema, err := param.ParseSchema(p.ConfSchema)
	if err != nil {
		return param.Redacted
	}
	return schema.MaskSecrets(m)
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
