package execution

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/store"
)

// Rerun runs execution id's action again: a new execution with its
// parameters, overrides merged over them (a key each), its timeout, and
// rerun_of id. Secret parameters are never read back from the redacted
// copy: they come from the original's sealed secrets while those still
// exist (the original has not started, a policy kept them, or it is a
// workflow not ended), else the
// overrides must give them again (BAD_USER_INPUT naming each). NOT_FOUND
// for an unknown execution or a deleted action; the new parameters are
// validated as Request validates them. by is who asks (the new run's
// requested_by).
func (s *Service) Rerun(ctx context.Context, id int, overrides map[string]any, by string) (*ent.Execution, error) {
	var out *ent.Execution
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		orig, err := tx.Ent.Execution.Get(ctx, id)
		if ent.IsNotFound(err) {
			return apperr.Errorf(apperr.NotFound, "execution %d not found", id)
		}
		if err != nil {
			return err
		}
		act, err := tx.Ent.Action.Query().Where(action.Ref(orig.ActionRef)).Only(ctx)
		if ent.IsNotFound(err) {
			return apperr.Errorf(apperr.NotFound, "action %q of execution %d no longer exists", orig.ActionRef, id)
		}
		if err != nil {
			return err
		}
		params, err := s.RerunParametersTx(ctx, tx, orig, act, overrides)
		if err != nil {
			return err
		}
		req := Request{Action: act.Ref, Loaded: act, Parameters: params, RerunOf: &id, RequestedBy: by}
		if orig.TimeoutSeconds > 0 {
			req.TimeoutSeconds = &orig.TimeoutSeconds
		}
		out, err = s.RequestTx(ctx, tx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RerunParametersTx returns the parameters of a re-run of orig (an
// execution of act): orig's, with immutable ones left to their defaults,
// secrets from orig's sealed copy while it exists (else overrides must give
// them: BAD_USER_INPUT naming each), and overrides merged over them.
func (s *Service) RerunParametersTx(ctx context.Context, tx *store.Tx, orig *ent.Execution, act *ent.Action, overrides map[string]any) (map[string]any, error) {
	schema, err := param.ParseSchema(act.Parameters)
	if err != nil {
		return nil, fmt.Errorf("action %q has an invalid parameter schema: %w", act.Ref, err)
	}
	params := maps.Clone(orig.Parameters)
	if params == nil {
		params = map[string]any{}
	}
	// Immutable parameters keep their defaults: they are filled again.
	for name := range params {
		if schema[name].Immutable {
			delete(params, name)
		}
	}
	// Read as the server: the caller may read the execution, and its
	// secrets go only to the new run's sealed copy.
	sealed, err := s.SecretsTx(ctx, tx, orig.ID)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, name := range schema.SecretNames() {
		if _, had := params[name]; !had {
			continue
		}
		delete(params, name)
		if v, ok := sealed[name]; ok {
			params[name] = v
		} else if _, given := overrides[name]; !given {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		fields := make([]map[string]string, len(missing))
		for i, name := range missing {
			fields[i] = map[string]string{"field": name, "message": "is secret and no longer stored: give it again in parameters"}
		}
		return nil, apperr.Errorf(apperr.BadUserInput, "rerunning execution %d: secret parameter(s) %s are no longer stored; give them in parameters",
			orig.ID, strings.Join(missing, ", ")).WithDetails("fields", fields)
	}
	maps.Copy(params, overrides)
	return params, nil
}
