package graph

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// postTransport is gqlgen's POST transport with a cheaper way to write an
// operation's result. gqlgen writes every response with json.Marshal,
// which validates and copies the already-marshalled data a second time:
// on a page of 100 executions that was a fifth of the request's CPU. Here
// a response without errors is written as it stands: {"data":…} plus its
// extensions. Everything else (a body that is not a request, an operation
// that fails to parse or validate, a result with errors) is gqlgen's own
// path and bytes, so status codes and error shapes stay gqlgen's.
type postTransport struct{ transport.POST }

// Do serves one POST request.
func (h postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		h.POST.Do(w, restored(r, body), exec)
		return
	}
	params := &graphql.RawParams{}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(params); err != nil {
		h.POST.Do(w, restored(r, body), exec)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	ctx := r.Context()
	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		h.POST.Do(w, restored(r, body), exec)
		return
	}
	w.Header().Set("Content-Type", responseContentType(r))
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, responses(ctx))
}

// restored is r with its body readable again from the start.
func restored(r *http.Request, body []byte) *http.Request {
	r.Body = io.NopCloser(bytes.NewReader(body))
	return r
}

// responseContentType is the Content-Type gqlgen's POST transport answers
// with for r's Accept header (its default: application/json unless the
// client asks for application/graphql-response+json first).
func responseContentType(r *http.Request) string {
	const gqlJSON, plainJSON = "application/graphql-response+json", "application/json"
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
