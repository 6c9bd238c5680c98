package graph

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/privacy"
	"github.com/attune-io/attune/internal/apperr"
)

// errorPresenter is the one place an error becomes what a client sees.
// Client errors (apperr, ent not-found/constraint/validation) keep their
// message and get extensions.code; anything else is logged once, with the
// operation, and shown as a generic internal error so SQL and paths never
// leak.
func errorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if e, ok := apperr.As(err); ok {
			gqlErr.Message = e.Message
			setCode(gqlErr, e.Code)
			for k, v := range e.Details {
				gqlErr.Extensions[k] = v
			}
			return gqlErr
		}
		if errors.Is(err, privacy.Deny) {
			// The read policy (ent/schema/privacy.go) refused a type.
			gqlErr.Message, _, _ = strings.Cut(err.Error(), ": "+privacy.Deny.Error())
			setCode(gqlErr, apperr.Forbidden)
			return gqlErr
		}
		var nf *ent.NotFoundError
		var ce *ent.ConstraintError
		var ve *ent.ValidationError
		switch {
		case errors.As(err, &nf):
			gqlErr.Message = nf.Error()
			setCode(gqlErr, apperr.NotFound)
			return gqlErr
		case errors.As(err, &ve):
			gqlErr.Message = ve.Error()
			setCode(gqlErr, apperr.BadUserInput)
			return gqlErr
		case errors.As(err, &ce):
			gqlErr.Message = "the change conflicts with existing data"
			setCode(gqlErr, apperr.Conflict)
			return gqlErr
		}
		// Errors raised by gqlgen itself (parse, validation, complexity,
		// argument coercion) carry their own code and a safe message.
		var own *gqlerror.Error
		if errors.As(err, &own) && own.Err == nil {
			if _, has := gqlErr.Extensions["code"]; !has {
				setCode(gqlErr, apperr.BadUserInput)
			}
			return gqlErr
		}
		op := ""
		if graphql.HasOperationContext(ctx) {
			op = graphql.GetOperationContext(ctx).OperationName
		}
		log.ErrorContext(ctx, "internal error", "operation", op, "path", gqlErr.Path.String(), "error", err)
		gqlErr.Message = "internal server error"
		setCode(gqlErr, apperr.Internal)
		return gqlErr
	}
}

func setCode(e *gqlerror.Error, c apperr.Code) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = string(c)
}

// recoverFunc turns a resolver panic into an internal error; the presenter
// logs it.
func recoverFunc(ctx context.Context, p any) error {
	return &panicError{value: p}
}

type panicError struct{ value any }

func (p *panicError) Error() string { return "panic: " + slog.AnyValue(p.value).String() }
