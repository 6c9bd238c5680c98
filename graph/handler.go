package graph

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/attune-io/attune/internal/metrics"
)

// Options configure the GraphQL handler.
type Options struct {
	Logger        *slog.Logger
	Introspection bool
	// OriginPatterns are the browser origins (host patterns as in
	// coder/websocket, e.g. "localhost:5173") allowed to open a websocket;
	// the same list CORS uses.
	OriginPatterns []string
	MaxComplexity  int
	// Document bounds every document before it is validated; zero fields
	// take the defaults.
	Document DocumentLimits
	// MaxFilterPredicates caps the predicates of one where argument;
	// zero means DefaultMaxFilterPredicates.
	MaxFilterPredicates int
	// MaxUploadBytes caps a multipart upload.
	MaxUploadBytes int64
	// WebsocketInit authenticates a connection_init payload; nil accepts all.
	WebsocketInit transport.WebsocketInitFunc
	// PersistedOnly, when not nil, is the allowlist (hash → document) and
	// the only operations accepted.
	PersistedOnly map[string]string
	// Metrics, when set, counts operations by name, type and error code,
	// with their latency. Names outside OperationNames count as "other".
	Metrics        *metrics.Metrics
	OperationNames []string
}

// NewHandler builds the GraphQL HTTP handler with explicit transports
// (POST, GET, multipart uploads, both websocket subprotocols), a query cache,
// complexity, depth and page-size limits, and the error presenter.
func NewHandler(r *Resolver, o Options) *handler.Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxComplexity == 0 {
		o.MaxComplexity = 250_000
	}
	o.Document = o.Document.withDefaults()
	if o.MaxFilterPredicates <= 0 {
		o.MaxFilterPredicates = DefaultMaxFilterPredicates
	}
	if o.MaxUploadBytes == 0 {
		o.MaxUploadBytes = 100 << 20
	}
	es := weightedSchema{NewExecutableSchema(Config{Resolvers: r})}
	srv := handler.New(es)
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 15 * time.Second,
		InitFunc:              o.WebsocketInit,
		Implementation: transport.CoderWebsocketImplementation{
			AcceptOptions: websocket.AcceptOptions{OriginPatterns: o.OriginPatterns},
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(postTransport{})
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: o.MaxUploadBytes, MaxMemory: 8 << 20})
	cache := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(cache)
	// First: it rewrites the document the other extensions then read.
	srv.Use(newDefaultPage())
	if o.Introspection {
		srv.Use(extension.Introspection{})
	}
	if o.PersistedOnly != nil {
		srv.Use(persistedOnly{allow: o.PersistedOnly})
	} else {
		srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	}
	// After the persisted-query extensions, which fill in the document.
	srv.Use(documentGuard{limits: o.Document, introspection: o.Introspection, cache: cache})
	srv.Use(extension.FixedComplexityLimit(o.MaxComplexity))
	srv.Use(argumentLimits{maxPredicates: o.MaxFilterPredicates, schema: es.Schema()})
	srv.Use(fieldMiddleware{r.aroundFields})
	if o.Metrics != nil {
		known := make(map[string]bool, len(o.OperationNames))
		for _, n := range o.OperationNames {
			known[n] = true
		}
		srv.Use(operationMetrics{m: o.Metrics, known: known})
	}
	srv.SetErrorPresenter(errorPresenter(o.Logger))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		return recoverFunc(ctx, p)
	})
	return srv
}

// BodyLimit refuses request bodies over limit bytes with a GraphQL error
// whose code is PAYLOAD_TOO_LARGE and status 413; multipart uploads have
// their own limit. A body without a Content-Length (chunked) is cut at the
// limit, and whatever the transport would have answered about the cut
// body is replaced by the same 413.
func BodyLimit(limit, uploadLimit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		max := limit
		if ct := r.Header.Get("Content-Type"); len(ct) >= 19 && ct[:19] == "multipart/form-data" {
			max = uploadLimit
		}
		if r.ContentLength > max {
			writePayloadTooLarge(w)
			return
		}
		if r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		body := &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, max)}
		r.Body = body
		next.ServeHTTP(&tooLargeWriter{ResponseWriter: w, body: body}, r)
	})
}

func writePayloadTooLarge(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Length")
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	_, _ = w.Write([]byte(`{"errors":[{"message":"request body too large","extensions":{"code":"PAYLOAD_TOO_LARGE"}}]}`))
}

// limitedBody records that its reader met the body limit.
type limitedBody struct {
	io.ReadCloser
	tooLarge bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		b.tooLarge = true
	}
	return n, err
}

// tooLargeWriter answers 413 instead of whatever a handler writes after
// the body met its limit.
type tooLargeWriter struct {
	http.ResponseWriter
	body    *limitedBody
	written bool
	refused bool
}

func (t *tooLargeWriter) WriteHeader(status int) {
	if t.written {
		return
	}
	t.written = true
	if t.body.tooLarge {
		t.refused = true
		writePayloadTooLarge(t.ResponseWriter)
		return
	}
	t.ResponseWriter.WriteHeader(status)
}

func (t *tooLargeWriter) Write(b []byte) (int, error) {
	t.WriteHeader(http.StatusOK)
	if t.refused {
		return len(b), nil
	}
	return t.ResponseWriter.Write(b)
}

// Flush is the underlying writer's.
func (t *tooLargeWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok && !t.refused {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (t *tooLargeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

var _ graphql.ExecutableSchema = weightedSchema{}

// fieldMiddleware installs f as the operation's field middleware as it is,
// where srv.AroundFields(f) would wrap it in gqlgen's chain, which costs
// every field of every object a closure more (1,200 allocations on a page
// of 100 executions). It must be the handler's only field middleware: it
// replaces the chain, and with it any FieldInterceptor registered (none
// is; TestFieldMiddleware fails if authorization or the page size limit
// stop running).
type fieldMiddleware struct{ f graphql.FieldMiddleware }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = fieldMiddleware{}

func (fieldMiddleware) ExtensionName() string { return "FieldMiddleware" }
func (m fieldMiddleware) Validate(graphql.ExecutableSchema) error {
	if m.f == nil {
		return errors.New("field middleware is nil")
	}
	return nil
}

func (m fieldMiddleware) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	oc.ResolverMiddleware = m.f
	return nil
}
