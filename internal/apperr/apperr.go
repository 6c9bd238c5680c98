// Package apperr carries the error codes clients see in extensions.code.
// Services return *Error for anything a client can act on; everything else
// is an internal error that the GraphQL presenter logs once and hides.
package apperr

import (
	"errors"
	"fmt"
)

// Code is a client-facing error code; the values are Apollo's where Apollo has one.
type Code string

// The codes clients can branch on.
const (
	BadUserInput    Code = "BAD_USER_INPUT"
	Unauthenticated Code = "UNAUTHENTICATED"
	Forbidden       Code = "FORBIDDEN"
	NotFound        Code = "NOT_FOUND"
	Conflict        Code = "CONFLICT"
	Internal        Code = "INTERNAL_SERVER_ERROR"
)

// Error is an error meant for the client: a code, a message safe to show,
// optional structured details (for example every validation problem), and
// the underlying cause for logs.
type Error struct {
	Code    Code
	Message string
	Details map[string]any
	Err     error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf makes a client error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithDetails returns e with details added under extensions.
func (e *Error) WithDetails(key string, v any) *Error {
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	e.Details[key] = v
	return e
}

// As finds the client error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// CodeOf returns err's code, Internal when it carries none.
func CodeOf(err error) Code {
	if e, ok := As(err); ok {
		return e.Code
	}
	return Internal
}
