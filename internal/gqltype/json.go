// Package gqltype holds GraphQL scalar marshalers for Go types that gqlgen
// does not know, bound in gqlgen.yml.
package gqltype

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/99designs/gqlgen/graphql"
)

// MarshalRawJSON writes stored JSON (an execution result, which may be any
// JSON value) as it is; an empty value is null.
func MarshalRawJSON(v json.RawMessage) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		if len(bytes.TrimSpace(v)) == 0 {
			_, _ = io.WriteString(w, "null")
			return
		}
		_, _ = w.Write(v)
	})
}

// UnmarshalRawJSON accepts any JSON value from a client.
func UnmarshalRawJSON(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("JSON value: %w", err)
	}
	return b, nil
}
