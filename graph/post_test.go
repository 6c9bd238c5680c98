package graph

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// writeResponse writes what gqlgen's json.Marshal of the response wrote.
func TestWriteResponse(t *testing.T) {
	t.Parallel()
	yes := true
	for name, resp := range map[string]*graphql.Response{
		"data":            {Data: json.RawMessage(`{"executions":{"edges":[{"node":{"id":"1","status":"SUCCEEDED"}}]}}`)},
		"null data":       {},
		"extensions":      {Data: json.RawMessage(`{"a":1}`), Extensions: map[string]any{"cost": 3, "trace": map[string]any{"ms": 1.5}}},
		"errors":          {Errors: gqlerror.List{{Message: "boom", Path: ast.Path{ast.PathName("a")}, Extensions: map[string]any{"code": "NOT_FOUND"}}}, Data: json.RawMessage(`{"a":null}`)},
		"incremental":     {Data: json.RawMessage(`{"b":2}`), Label: "l", Path: ast.Path{ast.PathName("x")}, HasNext: &yes},
		"escaped strings": {Data: json.RawMessage(`{"s":"<a href=\"x\">\u2028</a>"}`)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var got bytes.Buffer
			writeResponse(&got, resp)
			want, err := json.Marshal(resp)
			require.NoError(t, err)
			require.JSONEq(t, string(want), got.String())
			require.True(t, json.Valid(got.Bytes()))
		})
	}
}

func TestResponseContentType(t *testing.T) {
	t.Parallel()
	for accept, want := range map[string]string{
		"":                                  "application/json",
		"*/*":                               "application/json",
		"application/json":                  "application/json",
		"application/graphql-response+json": "application/graphql-response+json",
		"application/graphql-response+json, application/json;q=0.9": "application/graphql-response+json",
		"text/html, application/*":                                  "application/json",
		"text/html":                                                 "application/graphql-response+json",
		"bad;;, application/json":                                   "application/json",
	} {
		r, _ := http.NewRequest(http.MethodPost, "/graphql", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		require.Equal(t, want, responseContentType(r), accept)
	}
}
