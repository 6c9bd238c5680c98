package gqltype

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"

	"github.com/attune-io/attune/internal/apperr"
)

// MarshalID writes a global id as a string, as Relay clients expect.
func MarshalID(id int) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(strconv.Itoa(id)))
	})
}

// UnmarshalID reads an id given as a string or a number; anything else is
// the client's mistake (BAD_USER_INPUT), not a server error.
func UnmarshalID(v any) (int, error) {
	switch t := v.(type) {
	case string:
		if id, err := strconv.Atoi(t); err == nil {
			return id, nil
		}
	case int:
		return t, nil
	case int64:
		return int(t), nil
	case json.Number:
		if id, err := strconv.Atoi(string(t)); err == nil {
			return id, nil
		}
	case float64:
		if t == float64(int(t)) {
			return int(t), nil
		}
	}
	return 0, apperr.Errorf(apperr.BadUserInput, "%v is not a valid ID", v)
}

// MarshalCursor writes a pagination cursor.
func MarshalCursor(c entgql.Cursor[int]) graphql.Marshaler { return c }

// UnmarshalCursor reads a cursor; a malformed one is BAD_USER_INPUT.
func UnmarshalCursor(v any) (entgql.Cursor[int], error) {
	var c entgql.Cursor[int]
	if err := c.UnmarshalGQL(v); err != nil {
		return c, apperr.Errorf(apperr.BadUserInput, "invalid cursor: %s", fmt.Sprint(v))
	}
	return c, nil
}
