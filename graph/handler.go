package graph

import (
	"context"
	"errors"
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
	MaxDepth       int
	// MaxUploadBytes caps a multipart upload.
	MaxUploadBytes int64
	// WebsocketInit authenticates a connection_init payload; nil accepts all.
	WebsocketInit transport.WebsocketInitFunc
	// PersistedOnly, when not nil, is the allowlist (hash → document) and
	// the only operations accepted.
	PersistedOnly map[string]string
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
	if o.MaxDepth == 0 {
		o.MaxDepth = 12
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
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
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
	srv.Use(extension.FixedComplexityLimit(o.MaxComplexity))
	srv.Use(depthLimit{Max: o.MaxDepth})
	srv.Use(fieldMiddleware{r.aroundFields})
	srv.SetErrorPresenter(errorPresenter(o.Logger))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		return recoverFunc(ctx, p)
	})
	return srv
}

// BodyLimit refuses request bodies over limit bytes with a GraphQL error
// whose code is PAYLOAD_TOO_LARGE; multipart uploads have their own limit.
func BodyLimit(limit, uploadLimit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		max := limit
		if ct := r.Header.Get("Content-Type"); len(ct) >= 19 && ct[:19] == "multipart/form-data" {
			max = uploadLimit
		}
		if r.ContentLength > max {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = w.Write([]byte(`{"errors":[{"message":"request body too large","extensions":{"code":"PAYLOAD_TOO_LARGE"}}]}`))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

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
