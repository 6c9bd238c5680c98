package graph

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/attune-io/attune/internal/apperr"
)

// postTransport is gqlgen's POST transport with a cheaper way to write an
// operation's result. gqlgen writes every response with json.Marshal,
// which validates and copies the already-marshalled data a second time:
// on a page of 100 executions that was a fifth of the request's CPU. Here
// a response without errors is written as it stands: {"data":…} plus its
// extensions. Errors keep gqlgen's status codes and shapes, but are
// answered here rather than by running gqlgen's transport again (which
// parsed and validated a refused document a second time), and never
// quote the request body (gqlgen's decoding error did, all of it).
type postTransport struct{ transport.POST }

// Do serves one POST request. No error it answers echoes the body.
func (h postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()
	ctx := r.Context()
	contentType := responseContentType(r)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			writePayloadTooLarge(w)
			return
		}
		writeError(w, contentType, http.StatusBadRequest, exec.DispatchError(ctx, gqlerror.List{
			badRequest("the request body could not be read")}))
		return
	}
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(params); err != nil {
		writeError(w, contentType, http.StatusBadRequest, exec.DispatchError(ctx, gqlerror.List{
			badRequest("json request body could not be decoded: " + jsonProblem(err))}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		// gqlgen's statuses: 422 (400 for graphql-response+json) when
		// the document was refused, 200 otherwise.
		status := http.StatusOK
		if errcode.GetErrorKind(opErr) == errcode.KindProtocol {
			status = http.StatusUnprocessableEntity
			if contentType == gqlResponseJSON {
				status = http.StatusBadRequest
			}
		}
		writeError(w, contentType, status, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	w.Header().Set("Content-Type", contentType)
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, responses(ctx))
}

// jsonProblem says what is wrong with a body that is not JSON without
// quoting it (encoding/json's messages quote the offending character).
func jsonProblem(err error) string {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected EOF"
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return fmt.Sprintf("%s must not be a JSON %s", cmp.Or(te.Field, "the body"), te.Value)
	}
	return "not a JSON object of query, operationName, variables and extensions"
}

func badRequest(msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": string(apperr.BadUserInput)}}
}

func writeError(w http.ResponseWriter, contentType string, status int, resp *graphql.Response) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	writeResponse(w, resp)
}

const gqlResponseJSON = "application/graphql-response+json"

// responseContentType is the Content-Type gqlgen's POST transport answers
// with for r's Accept header (its default: application/json unless the
// client asks for application/graphql-response+json first).
func responseContentType(r *http.Request) string {
	const gqlJSON, plainJSON = gqlResponseJSON, "application/json"
	accept := r.Header.Get("Accept")
	if accept == "" {
		return plainJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", plainJSON:
			return plainJSON
		case gqlJSON:
			return gqlJSON
		}
	}
	return gqlJSON
}

// writeResponse writes resp as json.Marshal would, without re-encoding
// its data when it carries no errors.
func writeResponse(w io.Writer, resp *graphql.Response) {
	if resp == nil {
		return
	}
	if len(resp.Errors) > 0 || resp.Label != "" || resp.Path != nil || resp.HasNext != nil {
		b, err := json.Marshal(resp)
		if err != nil {
			panic(err)
		}
		_, _ = w.Write(b)
		return
	}
	var b bytes.Buffer
	b.Grow(len(resp.Data) + 32)
	b.WriteString(`{"data":`)
	if len(resp.Data) == 0 {
		b.WriteString("null")
	} else {
		b.Write(resp.Data)
	}
	if len(resp.Extensions) > 0 {
		ext, err := json.Marshal(resp.Extensions)
		if err != nil {
			panic(err)
		}
		b.WriteString(`,"extensions":`)
		b.Write(ext)
	}
	b.WriteByte('}')
	_, _ = w.Write(b.Bytes())
}
