package graph

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/attune-io/attune/internal/apperr"
)

// CodedErrors makes every error the GraphQL endpoint answers with carry
// extensions.code. gqlgen's transports answer some malformed requests
// themselves, past the error presenter and without a code: a GET of a
// mutation (406), a method or content type no transport takes ("transport
// not supported"), undecodable GET variables or extensions (400). Those get
// BAD_USER_INPUT, as an undecodable POST body already does. Only responses
// with an error status are held and read; websocket upgrades pass as they
// are.
func CodedErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		cw := &codingWriter{ResponseWriter: w}
		next.ServeHTTP(cw, r)
		cw.finish()
	})
}

// codingWriter passes a response through unless its status is an error,
// which it holds until finish adds the missing codes.
type codingWriter struct {
	http.ResponseWriter
	status int
	held   *bytes.Buffer
}

func (c *codingWriter) WriteHeader(status int) {
	if c.status != 0 {
		return
	}
	c.status = status
	if status >= http.StatusBadRequest {
		c.held = &bytes.Buffer{}
		return
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *codingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.WriteHeader(http.StatusOK)
	}
	if c.held != nil {
		return c.held.Write(b)
	}
	return c.ResponseWriter.Write(b)
}

// Flush is the underlying writer's, for responses that are not held.
func (c *codingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok && c.held == nil {
		f.Flush()
	}
}

func (c *codingWriter) finish() {
	if c.held == nil {
		return
	}
	body := withCodes(c.held.Bytes(), string(apperr.BadUserInput))
	c.ResponseWriter.Header().Del("Content-Length")
	c.ResponseWriter.WriteHeader(c.status)
	_, _ = c.ResponseWriter.Write(body)
}

// withCodes gives every error of a GraphQL response body that lacks one
// extensions.code = code; a body that is not such a response is returned
// as it is.
func withCodes(body []byte, code string) []byte {
	var resp map[string]json.RawMessage
	if json.Unmarshal(body, &resp) != nil {
		return body
	}
	var errs []map[string]any
	if json.Unmarshal(resp["errors"], &errs) != nil {
		return body
	}
	changed := false
	for _, e := range errs {
		ext, _ := e["extensions"].(map[string]any)
		if _, ok := ext["code"]; ok {
			continue
		}
		if ext == nil {
			ext = map[string]any{}
		}
		ext["code"] = code
		e["extensions"] = ext
		changed = true
	}
	if !changed {
		return body
	}
	var err error
	if resp["errors"], err = json.Marshal(errs); err != nil {
		return body
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return body
	}
	return out
}
