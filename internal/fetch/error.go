package fetch

import (
	"fmt"
	"net/url"
	"regexp"
)

// Error codes carried by [Error]; they match the GraphQL extensions.code the
// API reports, so the presenter can pass them through unchanged.
const (
	// CodeBadUserInput marks a source or archive the user must fix.
	CodeBadUserInput = "BAD_USER_INPUT"
	// CodeNotFound marks a source, URL or git ref that does not exist.
	CodeNotFound = "NOT_FOUND"
)

// Error is a failure caused by what the user supplied. Its Message is safe to
// show to them: it names the offending entry and never contains credentials.
type Error struct {
	Code    string
	Message string
}

// Error returns the user-facing message.
func (e *Error) Error() string { return e.Message }

func badInput(format string, args ...any) *Error {
	return &Error{Code: CodeBadUserInput, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *Error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf(format, args...)}
}

// redact returns loc fit for a message: any URL userinfo and query string
// (which often carries signed tokens) are replaced by REDACTED.
func redact(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" {
		return scrub(loc)
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	return u.String()
}

var userinfoRE = regexp.MustCompile(`://[^/\s@]*@`)

// scrub removes URL userinfo from free text such as git's stderr.
func scrub(text string) string {
	return userinfoRE.ReplaceAllString(text, "://REDACTED@")
}
