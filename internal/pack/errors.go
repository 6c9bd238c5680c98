package pack

import (
	"errors"
	"fmt"

	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/fetch"
	"github.com/attune-io/attune/internal/manifest"
)

// stepError names the install step that failed. Client-caused failures
// become apperr errors whose message starts with the step, so the user
// knows where it broke; internal ones stay internal.
func stepError(step string, err error) error {
	if err == nil {
		return nil
	}
	var fe *fetch.Error
	var ve *manifest.ValidationError
	switch {
	case errors.As(err, &ve):
		probs := make([]map[string]any, len(ve.Problems))
		for i, p := range ve.Problems {
			probs[i] = map[string]any{"file": p.File, "line": p.Line, "field": p.Field, "message": p.Message}
			if p.Task != "" {
				probs[i]["task"] = p.Task
			}
		}
		msg := fmt.Sprintf("%s: pack is invalid: %d problem(s): %s", step, len(ve.Problems), ve.Error())
		return (&apperr.Error{Code: apperr.BadUserInput, Message: msg, Err: err}).
			WithDetails("step", step).WithDetails("problems", probs)
	case errors.As(err, &fe):
		return (&apperr.Error{Code: apperr.Code(fe.Code), Message: step + ": " + fe.Message, Err: err}).
			WithDetails("step", step)
	}
	if e, ok := apperr.As(err); ok {
		if _, has := e.Details["step"]; has {
			return err
		}
		return (&apperr.Error{Code: e.Code, Message: step + ": " + e.Message, Details: e.Details, Err: e.Err}).
			WithDetails("step", step)
	}
	return fmt.Errorf("install step %s: %w", step, err)
}

// clientMessage is what the install record shows: the client message, or a
// generic one for internal errors (logged by the caller).
func clientMessage(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Message
	}
	return "internal error"
}
