// Package policy stores action policies (docs/policies.md): those of packs
// (policies/*.yaml, registered with the pack) and those made through the
// API. It keeps Action.has_policies true exactly for the actions an
// enabled policy names, which sends their claims down the policed path of
// internal/execution, where the policies are enforced.
package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/ent/actionpolicy"
	"github.com/attune-io/attune/ent/pack"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/manifest"
	"github.com/attune-io/attune/internal/store"
)

// Service creates, changes and deletes policies through the API.
type Service struct{ db *store.DB }

// NewService returns a Service on db.
func NewService(db *store.DB) *Service { return &Service{db: db} }

// refRE is a policy's ref: <namespace>.<name>, the name as StackStorm
// allows (dots included).
var refRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}\.[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// Settings is a policy as the API takes it: the keys of a policy file.
// Nil fields are absent.
type Settings struct {
	Description *string
	Action      *string
	Enabled     *bool
	// Type and Parameters are StackStorm's policy_type and parameters.
	Type       *string
	Parameters map[string]any
	// Concurrency, RateLimit and Retry are the reference form.
	Concurrency, RateLimit, Retry map[string]any
}

// limits reports whether s sets any limit.
func (s Settings) limits() bool {
	return s.Type != nil || s.Parameters != nil || s.Concurrency != nil || s.RateLimit != nil || s.Retry != nil
}

// doc is s as a policy file's mapping.
func (s Settings) doc() map[string]any {
	m := map[string]any{}
	if s.Description != nil {
		m["description"] = *s.Description
	}
	if s.Action != nil {
		m["resource_ref"] = *s.Action
	}
	if s.Enabled != nil {
		m["enabled"] = *s.Enabled
	}
	if s.Type != nil {
		m["policy_type"] = *s.Type
	}
	for k, v := range map[string]map[string]any{"parameters": s.Parameters, "concurrency": s.Concurrency, "rate_limit": s.RateLimit, "retry": s.Retry} {
		if v != nil {
			m[k] = v
		}
	}
	return numbersAsInts(m).(map[string]any)
}

// numbersAsInts turns whole JSON numbers into ints, as YAML decodes them.
func numbersAsInts(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = numbersAsInts(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = numbersAsInts(e)
		}
		return out
	case float64:
		if t == float64(int(t)) {
			return int(t)
		}
	case int64:
		return int(t)
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return int(n)
		}
	}
	return v
}

// parse checks m as a policy of action act, returning BAD_USER_INPUT with
// every problem under details "fields".
func parse(ctx context.Context, c *ent.Client, m map[string]any) (manifest.Policy, error) {
	p, probs := manifest.ParsePolicy(m)
	var fields []map[string]string
	for _, pr := range probs {
		fields = append(fields, map[string]string{"field": pr.Field, "message": pr.Message})
	}
	if p.ActionRef != "" {
		ok, err := c.Action.Query().Where(action.Ref(p.ActionRef)).Exist(ctx)
		if err != nil {
			return p, err
		}
		if !ok {
			fields = append(fields, map[string]string{"field": "action", "message": fmt.Sprintf("action %s not found", p.ActionRef)})
		}
	}
	if len(fields) > 0 {
		msgs := make([]string, len(fields))
		for i, f := range fields {
			msgs[i] = f["field"] + ": " + f["message"]
		}
		return p, apperr.Errorf(apperr.BadUserInput, "invalid policy: %s", strings.Join(msgs, "; ")).WithDetails("fields", fields)
	}
	return p, nil
}

// Create validates and stores a policy. BAD_USER_INPUT lists every problem
// (ref shape, unknown pack or action, invalid limits); CONFLICT when the
// ref is taken.
func (s *Service) Create(ctx context.Context, ref, packRef string, in Settings) (*ent.ActionPolicy, error) {
	if !refRE.MatchString(ref) {
		return nil, apperr.Errorf(apperr.BadUserInput, "invalid policy: ref: must look like <namespace>.<name>").
			WithDetails("fields", []map[string]string{{"field": "ref", "message": "must look like <namespace>.<name>"}})
	}
	var out *ent.ActionPolicy
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var packID *int
		ns, _, _ := strings.Cut(ref, ".")
		if packRef != "" {
			p, err := tx.Ent.Pack.Query().Where(pack.Ref(packRef)).Only(ctx)
			if ent.IsNotFound(err) {
				return apperr.Errorf(apperr.BadUserInput, "invalid policy: pack: pack %s not found", packRef).
					WithDetails("fields", []map[string]string{{"field": "pack", "message": "pack " + packRef + " not found"}})
			}
			if err != nil {
				return err
			}
			if ns != packRef {
				return apperr.Errorf(apperr.BadUserInput, "invalid policy: ref: a policy of pack %s must be named %s.<name>", packRef, packRef).
					WithDetails("fields", []map[string]string{{"field": "ref", "message": "must start with " + packRef + "."}})
			}
			packID = &p.ID
		}
		p, err := parse(ctx, tx.Ent, in.doc())
		if err != nil {
			return err
		}
		p.Ref = ref
		out, err = save(ctx, tx.Ent, nil, packID, packRef, p)
		if ent.IsConstraintError(err) {
			return apperr.Errorf(apperr.Conflict, "policy %s already exists", ref)
		}
		if err != nil {
			return err
		}
		return Sync(ctx, tx.Ent, p.ActionRef)
	})
	if err != nil {
		return nil, err
	}
	return s.db.Ent.ActionPolicy.Get(ctx, out.ID)
}

// Update changes a policy: absent fields stay; any limit given (policyType,
// parameters, concurrency, rateLimit, retry) replaces all of its limits.
// NOT_FOUND for an unknown policy, BAD_USER_INPUT as Create. A policy of a
// pack is overwritten by the pack's next upgrade.
func (s *Service) Update(ctx context.Context, ref string, in Settings) (*ent.ActionPolicy, error) {
	var id int
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		cur, err := tx.Ent.ActionPolicy.Query().Where(actionpolicy.Ref(ref)).Only(ctx)
		if ent.IsNotFound(err) {
			return apperr.Errorf(apperr.NotFound, "policy %q not found", ref)
		}
		if err != nil {
			return err
		}
		merged := in
		if merged.Description == nil {
			merged.Description = &cur.Description
		}
		if merged.Action == nil {
			merged.Action = &cur.ActionRef
		}
		if merged.Enabled == nil {
			merged.Enabled = &cur.Enabled
		}
		if !in.limits() {
			merged.Concurrency, merged.RateLimit, merged.Retry = currentLimits(cur)
		}
		p, err := parse(ctx, tx.Ent, merged.doc())
		if err != nil {
			return err
		}
		p.Ref = ref
		if _, err := save(ctx, tx.Ent, cur, cur.PackID, cur.PackRef, p); err != nil {
			return err
		}
		id = cur.ID
		return Sync(ctx, tx.Ent, cur.ActionRef, p.ActionRef)
	})
	if err != nil {
		return nil, err
	}
	return s.db.Ent.ActionPolicy.Get(ctx, id)
}

// Delete removes a policy. NOT_FOUND for an unknown one. Executions it
// delayed are released by the next sweep or finish of the action.
func (s *Service) Delete(ctx context.Context, ref string) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		cur, err := tx.Ent.ActionPolicy.Query().Where(actionpolicy.Ref(ref)).Only(ctx)
		if ent.IsNotFound(err) {
			return apperr.Errorf(apperr.NotFound, "policy %q not found", ref)
		}
		if err != nil {
			return err
		}
		if err := tx.Ent.ActionPolicy.DeleteOne(cur).Exec(ctx); err != nil {
			return err
		}
		return Sync(ctx, tx.Ent, cur.ActionRef)
	})
}

// currentLimits is a stored policy's limits in the reference form.
func currentLimits(p *ent.ActionPolicy) (conc, rate, retry map[string]any) {
	if p.ConcurrencyThreshold > 0 {
		method := "enqueue"
		if p.ConcurrencyAction == actionpolicy.ConcurrencyActionCANCEL {
			method = "cancel"
		}
		attrs := make([]any, len(p.ConcurrencyAttributes))
		for i, a := range p.ConcurrencyAttributes {
			attrs[i] = a
		}
		conc = map[string]any{"limit": p.ConcurrencyThreshold, "method": method, "parameters": attrs}
	}
	if p.RateLimitMax > 0 {
		rate = map[string]any{"max_executions": p.RateLimitMax, "window_seconds": p.RateLimitWindowSeconds}
	}
	if p.RetryMaxCount > 0 {
		on := make([]any, len(p.RetryOn))
		for i, o := range p.RetryOn {
			on[i] = strings.ToLower(o)
		}
		retry = map[string]any{"retry_on": on, "max_retry_count": p.RetryMaxCount, "delay": p.RetryDelaySeconds}
	}
	return conc, rate, retry
}

// save writes p as a new policy (cur nil) or over cur.
func save(ctx context.Context, c *ent.Client, cur *ent.ActionPolicy, packID *int, packRef string, p manifest.Policy) (*ent.ActionPolicy, error) {
	action := actionpolicy.ConcurrencyAction(p.ConcurrencyAction)
	if action == "" {
		action = actionpolicy.ConcurrencyActionDELAY
	}
	if cur == nil {
		return c.ActionPolicy.Create().SetRef(p.Ref).SetPackRef(packRef).SetNillablePackID(packID).
			SetDescription(p.Description).SetActionRef(p.ActionRef).SetPolicyType(p.Type).SetEnabled(p.Enabled).
			SetConcurrencyThreshold(p.ConcurrencyThreshold).SetConcurrencyAction(action).
			SetConcurrencyAttributes(p.ConcurrencyAttributes).SetRateLimitMax(p.RateLimitMax).
			SetRateLimitWindowSeconds(p.RateLimitWindowSeconds).SetRetryOn(p.RetryOn).
			SetRetryMaxCount(p.RetryMaxCount).SetRetryDelaySeconds(p.RetryDelaySeconds).Save(ctx)
	}
	return c.ActionPolicy.UpdateOne(cur).
		SetDescription(p.Description).SetActionRef(p.ActionRef).SetPolicyType(p.Type).SetEnabled(p.Enabled).
		SetConcurrencyThreshold(p.ConcurrencyThreshold).SetConcurrencyAction(action).
		SetConcurrencyAttributes(p.ConcurrencyAttributes).SetRateLimitMax(p.RateLimitMax).
		SetRateLimitWindowSeconds(p.RateLimitWindowSeconds).SetRetryOn(p.RetryOn).
		SetRetryMaxCount(p.RetryMaxCount).SetRetryDelaySeconds(p.RetryDelaySeconds).Save(ctx)
}

// Register writes a pack's policies in its registration transaction:
// matched by ref (ids kept), the pack's policies gone from the manifest
// deleted, and Action.has_policies brought up to date.
func Register(ctx context.Context, c *ent.Client, packID int, packRef string, policies []manifest.Policy) error {
	old, err := c.ActionPolicy.Query().Where(actionpolicy.PackID(packID)).All(ctx)
	if err != nil {
		return err
	}
	byRef := map[string]*ent.ActionPolicy{}
	refs := []string{}
	for _, p := range old {
		byRef[p.Ref] = p
		refs = append(refs, p.ActionRef)
	}
	keep := []string{}
	for _, p := range policies {
		if _, err := save(ctx, c, byRef[p.Ref], &packID, packRef, p); err != nil {
			return fmt.Errorf("policy %s: %w", p.Ref, err)
		}
		keep = append(keep, p.Ref)
		refs = append(refs, p.ActionRef)
	}
	if _, err := c.ActionPolicy.Delete().Where(actionpolicy.PackID(packID), actionpolicy.RefNotIn(keep...)).Exec(ctx); err != nil {
		return err
	}
	// The pack's own actions may be named by other packs' policies.
	own, err := c.Action.Query().Where(action.PackID(packID)).Select(action.FieldRef).Strings(ctx)
	if err != nil {
		return err
	}
	return Sync(ctx, c, append(refs, own...)...)
}

// Sync sets Action.has_policies of the actions refs name: true exactly
// when an enabled policy names the action.
func Sync(ctx context.Context, c *ent.Client, refs ...string) error {
	if len(refs) == 0 {
		return nil
	}
	policed, err := c.ActionPolicy.Query().
		Where(actionpolicy.ActionRefIn(refs...), actionpolicy.Enabled(true)).
		Select(actionpolicy.FieldActionRef).Strings(ctx)
	if err != nil {
		return err
	}
	if err := c.Action.Update().Where(action.RefIn(refs...), action.RefNotIn(policed...)).
		SetHasPolicies(false).Exec(ctx); err != nil {
		return err
	}
	if len(policed) == 0 {
		return nil
	}
	return c.Action.Update().Where(action.RefIn(policed...)).SetHasPolicies(true).Exec(ctx)
}
