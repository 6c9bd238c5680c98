package graph

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/auth"
)

// mutationRoles is the least role each mutation needs. A mutation missing
// here needs ADMIN: new mutations are closed until someone opens them.
var mutationRoles = map[string]auth.Role{
	"executeAction":   auth.Operator,
	"cancelExecution": auth.Operator,
	"rerunExecution":  auth.Operator, // runs its action again, as executeAction
	"pauseExecution":  auth.Operator, // as cancelExecution
	"resumeExecution": auth.Operator,
	"emitEvent":       auth.Operator,
	// Who may answer is the inquiry's assignment (internal/inquiry):
	// a VIEWER named in it may; unassigned ones need OPERATOR.
	"respondInquiry": auth.Viewer,
	"cancelInquiry":  auth.Operator,

	"installPack":              auth.Editor,
	"uploadPack":               auth.Editor,
	"startPackInstall":         auth.Editor,
	"deletePack":               auth.Editor,
	"deleteAction":             auth.Editor,
	"deleteTrigger":            auth.Editor,
	"deleteSensor":             auth.Editor,
	"deleteRule":               auth.Editor,
	"deleteWorkflowDefinition": auth.Editor,
	"createRule":               auth.Editor,
	"updateRule":               auth.Editor,
	"enableRule":               auth.Editor,
	"disableRule":              auth.Editor,
	"enableSensor":             auth.Editor,
	"disableSensor":            auth.Editor,
	"setKey":                   auth.Editor,
	"deleteKey":                auth.Editor,
	"setPackConfig":            auth.Editor,
	"createPolicy":             auth.Editor,
	"updatePolicy":             auth.Editor,
	"deletePolicy":             auth.Editor,
}

// installsUnknownPack are mutations whose pack is known only after the
// files are read; pack-limited tokens cannot use them.
var installsUnknownPack = map[string]bool{"installPack": true, "uploadPack": true, "startPackInstall": true}

// requiredRole is the least role for a root field of object (Query,
// Mutation or Subscription). Queries and subscriptions only read: any role
// may ask, and what each reads is decided for every row where it is read,
// by ent's read policy (ent/schema/privacy.go), whichever field reaches it.
func requiredRole(object, field string) auth.Role {
	if object == "Mutation" {
		if r, ok := mutationRoles[field]; ok {
			return r
		}
		return auth.Admin
	}
	return auth.Viewer
}

type authErrKey struct{}

// WithAuthError records why a request could not be authenticated; the
// field middleware reports it on the first field that needs a principal.
func WithAuthError(ctx context.Context, err error) context.Context {
	return context.WithValue(ctx, authErrKey{}, err)
}

// principal is who the request acts as; resolvers run only after guard
// found one.
func principal(ctx context.Context) *auth.Principal {
	if p, ok := auth.FromContext(ctx); ok {
		return p
	}
	return auth.System
}

// aroundFields is the handler's only field middleware: gqlgen runs it for
// every field of every object (a page of 100 executions is over a thousand
// fields), and each registered field middleware costs every one of them a
// closure and stack frames. Root fields go through guard; fields with
// arguments through the page size limit, checked inside guard (as when
// they were two middlewares, guard first).
func (r *Resolver) aroundFields(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return next(ctx)
	}
	limited := next
	if len(fc.Args) > 0 {
		limited = func(ctx context.Context) (any, error) {
			if err := checkPageSize(fc.Args); err != nil {
				return nil, err
			}
			return next(ctx)
		}
	}
	if !guarded(fc) {
		return limited(ctx)
	}
	return r.guard(ctx, fc, limited)
}

// guarded reports whether fc is a root field guard checks: not a child,
// not introspection.
func guarded(fc *graphql.FieldContext) bool {
	return (fc.Parent == nil || fc.Parent.Parent == nil) && isRoot(fc.Object) &&
		!strings.HasPrefix(fc.Field.Name, "__")
}

// guard checks every root field of every operation for a principal, a
// mutation's role, and pack limits of arguments, before its resolver runs;
// every mutation is then audited. Reads are decided by the data layer.
func (r *Resolver) guard(ctx context.Context, fc *graphql.FieldContext, next graphql.Resolver) (any, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		if err, _ := ctx.Value(authErrKey{}).(error); err != nil {
			return nil, err
		}
		return nil, apperr.Errorf(apperr.Unauthenticated, "authentication required: send Authorization: Bearer <token>")
	}
	field := fc.Field.Name
	if p.ExecutionID != 0 {
		if err := runTokenMay(p, fc.Object, field, fc.Args); err != nil {
			return nil, r.audited(ctx, fc, p, err)
		}
		return r.auditing(ctx, fc, p, next)
	}
	if need := requiredRole(fc.Object, field); !p.Role.AtLeast(need) {
		return nil, r.audited(ctx, fc, p, apperr.Errorf(apperr.Forbidden,
			"%s needs the %s role; this token is %s", field, need, p.Role))
	}
	if err := r.checkScope(ctx, p, field, fc.Args); err != nil {
		return nil, r.audited(ctx, fc, p, err)
	}
	return r.auditing(ctx, fc, p, next)
}

func isRoot(object string) bool {
	return object == "Query" || object == "Mutation" || object == "Subscription"
}

// checkScope keeps a pack-limited token inside its packs: every argument
// naming a pack or a component must be in them, and an id must be of a row
// the token can see (the scope interceptor hides the others).
func (r *Resolver) checkScope(ctx context.Context, p *auth.Principal, field string, args map[string]any) error {
	if len(p.Packs) == 0 {
		return nil
	}
	if installsUnknownPack[field] {
		return apperr.Errorf(apperr.Forbidden, "a token limited to packs cannot install packs")
	}
	var refs []string
	collectRefs(args, &refs)
	if keyField[field] && len(refs) == 0 {
		return apperr.Errorf(apperr.Forbidden, "a token limited to packs can only use keys of its packs")
	}
	for _, ref := range refs {
		if !p.CanSeeRef(ref) {
			return apperr.Errorf(apperr.Forbidden, "this token is limited to packs %s", strings.Join(p.Packs, ", "))
		}
	}
	if id, ok := args["id"].(int); ok {
		if _, err := r.Client.Noder(ctx, id); ent.IsNotFound(err) {
			return apperr.Errorf(apperr.NotFound, "%d not found", id)
		} else if err != nil {
			return err // the read policy's FORBIDDEN
		}
	}
	return nil
}

// runTokenFields are the only root fields the token of one run of an
// action (a StackStorm Python action's action_service) may use.
var runTokenFields = map[string]bool{
	"Query.key": true, "Query.keys": true, "Query.viewer": true,
	"Mutation.setKey": true, "Mutation.deleteKey": true,
}

// runTokenMay keeps an action's run token to the key/value store: it reads
// its pack's keys and the system-wide ones (the read policy narrows keys
// to those), and writes only its pack's.
func runTokenMay(p *auth.Principal, object, field string, args map[string]any) error {
	if !runTokenFields[object+"."+field] {
		return apperr.Errorf(apperr.Forbidden, "an action's run token reaches only the key/value store, not %s", field)
	}
	var refs []string
	collectRefs(args, &refs)
	if object == "Mutation" && len(refs) == 0 {
		return apperr.Errorf(apperr.Forbidden, "an action's run token writes only keys of its pack %s, not system-wide ones",
			strings.Join(p.Packs, ", "))
	}
	for _, ref := range refs {
		if !p.CanSeePack(ref) {
			return apperr.Errorf(apperr.Forbidden, "an action's run token reaches only keys of its pack %s",
				strings.Join(p.Packs, ", "))
		}
	}
	return nil
}

// keyField are the key/value store fields: a pack-limited token must name a pack.
var keyField = map[string]bool{"setKey": true, "deleteKey": true, "key": true}

// refArgs are argument and input field names that hold a pack or component ref.
var refArgs = map[string]bool{"ref": true, "pack": true, "action": true, "trigger": true, "rule": true}

// freeData are input fields whose JSON is the user's data, checked by its
// service (an inquiry's response, against its schema): a key in it named
// like a ref argument is not a ref. Action parameters and event payloads
// are not here: a ref in them (core.inject_trigger's trigger) is one.
var freeData = map[string]bool{"response": true}

func collectRefs(v any, out *[]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if freeData[k] {
				continue // what the user sends, not refs to check
			}
			if s, ok := val.(string); ok && refArgs[k] {
				*out = append(*out, s)
			} else if s, ok := val.(*string); ok && s != nil && refArgs[k] {
				*out = append(*out, *s)
			} else {
				collectRefs(val, out)
			}
		}
	default:
		// Input objects arrive as generated structs: read them through
		// their JSON shape.
		if m, ok := structToMap(v); ok {
			collectRefs(m, out)
		}
	}
}
