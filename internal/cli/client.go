package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/Khan/genqlient/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// conn is a connection to one server.
type conn struct {
	target
	http *http.Client
	gql  graphql.Client
}

// bearer adds the token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.token != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.next.RoundTrip(r)
}

// connect resolves the server and returns its client.
func (a *app) connect() (*conn, error) {
	if a.conn != nil {
		return a.conn, nil
	}
	t, err := a.resolve()
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(t.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageErr("server URL %q (from %s) is not an http(s) URL", t.url, t.urlFrom)
	}
	hc := &http.Client{Transport: bearer{token: t.token, next: http.DefaultTransport}}
	a.conn = &conn{target: t, http: hc, gql: graphql.NewClient(t.url+"/graphql", hc)}
	return a.conn, nil
}

// gql returns the typed client, connecting first.
func (a *app) gql() (graphql.Client, error) {
	c, err := a.connect()
	if err != nil {
		return nil, err
	}
	return c.gql, nil
}

// codeExit maps a GraphQL error code to an exit code.
func codeExit(code string) int {
	switch code {
	case "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED":
		return ExitUsage
	case "UNAUTHENTICATED", "FORBIDDEN":
		return ExitAuth
	case "NOT_FOUND":
		return ExitNotFound
	case "CONFLICT":
		return ExitConflict
	case "INTERNAL_SERVER_ERROR", "":
		return ExitServer
	}
	return ExitFailed
}

// gqlErrors is what a server said went wrong.
type gqlErrors = gqlerror.List

// graphQLError classifies errors from the server and the network.
func graphQLError(err error) (int, string, bool) {
	var list gqlerror.List
	var one *gqlerror.Error
	var httpErr *graphql.HTTPError
	switch {
	case errors.As(err, &list) && len(list) > 0:
		return describe(list)
	case errors.As(err, &one):
		return describe(gqlerror.List{one})
	case errors.As(err, &httpErr):
		if len(httpErr.Response.Errors) > 0 {
			return describe(httpErr.Response.Errors)
		}
		switch httpErr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return ExitAuth, fmt.Sprintf("HTTP %d", httpErr.StatusCode), true
		case http.StatusNotFound:
			return ExitNotFound, "HTTP 404: is this an attune server?", true
		}
		return ExitServer, fmt.Sprintf("HTTP %d", httpErr.StatusCode), true
	}
	var netErr net.Error
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.As(err, &netErr) {
		return ExitServer, "cannot reach the server: " + err.Error(), true
	}
	if errors.Is(err, context.Canceled) {
		return ExitFailed, "interrupted", true
	}
	return 0, "", false
}

// describe prints every error as CODE: message, with its details (fields,
// problems) indented under it.
func describe(list gqlerror.List) (int, string, bool) {
	var b strings.Builder
	code := ""
	for i, e := range list {
		c, _ := e.Extensions["code"].(string)
		if i == 0 {
			code = c
		}
		if i > 0 {
			b.WriteString("\n")
		}
		if c != "" {
			b.WriteString(c + ": ")
		}
		if f, ok := e.Extensions["fields"]; ok {
			b.WriteString(withFields(e.Message, f))
		} else {
			b.WriteString(e.Message)
		}
	}
	return codeExit(code), b.String(), true
}

// errorCode returns the GraphQL code of err, "" for none.
func errorCode(err error) string {
	var list gqlerror.List
	if errors.As(err, &list) && len(list) > 0 {
		c, _ := list[0].Extensions["code"].(string)
		return c
	}
	var httpErr *graphql.HTTPError
	if errors.As(err, &httpErr) && len(httpErr.Response.Errors) > 0 {
		c, _ := httpErr.Response.Errors[0].Extensions["code"].(string)
		return c
	}
	return ""
}

// withFields prints a BAD_USER_INPUT's message and its field problems
// one a line ("  field: message"), each once: a message ending with the
// problems joined by "; " (the server's param errors) loses that ending,
// and a problem the message says elsewhere is not repeated. Fields that
// are not a list of problems print as JSON.
func withFields(msg string, f any) string {
	raw, _ := json.Marshal(f)
	var list []struct{ Field, Message string }
	if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 {
		return msg + "\n  fields: " + string(raw)
	}
	lines := make([]string, len(list))
	for i, p := range list {
		lines[i] = p.Message
		if p.Field != "" {
			lines[i] = p.Field + ": " + p.Message
		}
	}
	if head, ok := strings.CutSuffix(msg, strings.Join(lines, "; ")); ok {
		if head = strings.TrimRight(strings.TrimSuffix(strings.TrimRight(head, " "), ":"), " "); head != "" {
			msg = head
		}
	}
	var b strings.Builder
	b.WriteString(msg)
	for _, line := range lines {
		if !strings.Contains(msg, line) {
			b.WriteString("\n  " + line)
		}
	}
	return b.String()
}
