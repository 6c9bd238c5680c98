package expr

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/attune-io/attune/internal/jinja"
)

// chainRender renders as st2's render_values: a mapping value by value (keys as they are), a
// string to its text, a list or map through its JSON text decoded again, and a value whose
// text does not change keeps its original value.
func (st *state) chainRender(raw any) (any, error) {
	switch x := raw.(type) {
	case string:
		return st.chainString(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, v := range x {
			r, err := st.chainValue(v)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return st.chainValue(raw)
}

func (st *state) chainValue(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return st.chainString(x)
	case []any, map[string]any:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(x); err != nil {
			return nil, &Error{Expr: "", Err: err}
		}
		text := strings.TrimSuffix(b.String(), "\n")
		if !jinja.IsTemplate(text) {
			return normal(v), nil
		}
		out, err := st.jinjaText(text)
		if err != nil {
			return nil, err
		}
		if out == text {
			return normal(v), nil
		}
		dec := json.NewDecoder(strings.NewReader(out))
		dec.UseNumber()
		var r any
		if err := dec.Decode(&r); err != nil {
			return nil, &Error{Expr: text, Err: err}
		}
		return normal(r), nil
	}
	return normal(v), nil
}

func (st *state) chainString(s string) (any, error) {
	if !jinja.IsTemplate(s) {
		return s, nil
	}
	return st.jinjaText(s)
}
