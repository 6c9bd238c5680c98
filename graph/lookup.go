package graph

import (
	"context"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/graph/model"
	"github.com/attune-io/attune/internal/apperr"
)

// one returns the single row of a ref lookup, or NOT_FOUND naming it.
func one[T any](ctx context.Context, q interface {
	Only(context.Context) (T, error)
}, kind, ref string,
) (T, error) {
	v, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return v, apperr.Errorf(apperr.NotFound, "%s %q not found", kind, ref)
	}
	return v, err
}

// deleted turns a delete's row count into the payload, or NOT_FOUND.
func deleted(n int, err error, kind, ref string) (*model.DeletePayload, error) {
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apperr.Errorf(apperr.NotFound, "%s %q not found", kind, ref)
	}
	return &model.DeletePayload{DeletedRef: ref}, nil
}

// deletedID is deleted for history rows addressed by id.
func deletedID(n int, err error, kind string, id int) (*model.DeleteByIDPayload, error) {
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apperr.Errorf(apperr.NotFound, "%s %d not found", kind, id)
	}
	return &model.DeleteByIDPayload{DeletedID: id}, nil
}

// keyUser is whose keys a scope names: the token's identity for USER
// (StackStorm's st2kv.user), nobody for SYSTEM.
func keyUser(ctx context.Context, scope *model.KeyScope) string {
	if scope == nil || *scope != model.KeyScopeUser {
		return ""
	}
	return principal(ctx).Name
}
