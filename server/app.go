package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/cors"

	"github.com/attune-io/attune/graph"
	"github.com/attune-io/attune/internal/metrics"
	"github.com/attune-io/attune/internal/pack"
	"github.com/attune-io/attune/internal/playground"
	actionpolicy "github.com/attune-io/attune/internal/policy"
	"github.com/attune-io/attune/internal/sandbox"
	"github.com/attune-io/attune/internal/store"
	"github.com/attune-io/attune/internal/trigger"
)

// app is one running attune process: its database and HTTP handler.
type app struct {
	cfg   Config
	log   *slog.Logger
	db    *store.DB
	packs *pack.Service
	// engine runs executions (worker role) and serves them (every role).
	engine *engine
	sec    *security
	// persisted is the allowlist of a persisted-queries-only server.
	persisted map[string]string
	// events runs webhooks, timers and sensors.
	events *events
	// sandbox confines action processes and environment builds.
	sandbox *sandbox.Sandbox
	// statements counts the API's SQL statements (debug.sql_stats).
	statements *atomic.Int64
	// metrics is this process's Prometheus registry and instruments.
	metrics *metrics.Metrics
	// draining is set from the shutdown signal on: readyz answers 503.
	draining atomic.Bool
	stopOnce sync.Once
}

// newApp opens the database and applies pending migrations.
func newApp(ctx context.Context, cfg Config, log *slog.Logger) (*app, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	db.SetMaxConns(cfg.DatabaseMaxConns)
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating %s: %w", db.Location, err)
	}
	log.Info("database ready", "dialect", db.Dialect, "location", db.Location)
	var statements *atomic.Int64
	if cfg.Debug.SQLStats {
		statements = db.CountStatements()
	}
	a := &app{cfg: cfg, log: log, db: db, statements: statements}
	a.metrics = newMetrics(a)
	return a, nil
}

// start brings up the services the roles need.
func (a *app) start(ctx context.Context) error {
	var err error
	if a.sec, err = startSecurity(ctx, a.cfg, a.db, a.log); err != nil {
		return err
	}
	if a.persisted, err = loadPersisted(a.cfg.GraphQL.PersistedQueriesFile); err != nil {
		return err
	}
	if err := openDataDirs(a.cfg); err != nil {
		return err
	}
	if a.sandbox, err = startSandbox(a.cfg, a.log); err != nil {
		return err
	}
	if a.packs, err = newPackService(ctx, a.cfg, a.db, a.log, a.sandbox, a.sec.keys); err != nil {
		return err
	}
	a.packs.Metrics = a.metrics
	// Every node removes the pack versions a delete or an upgrade left
	// unused, in the database and in its own directories.
	go a.packs.RunSweeps(ctx, a.cfg.Packs.SweepInterval)
	if a.engine, err = startEngine(ctx, a.cfg, a.db, a.log, a.sec.keys, a.sec.tokens, a.sandbox, a.metrics, a.packs); err != nil {
		return err
	}
	a.collectQueue()
	a.packs.Canceler = a.engine.svc
	if a.sec.tokens != nil {
		// Revoked tokens' subscriptions end on every node.
		a.sec.tokens.Watch(ctx, a.engine.bus)
	}
	if a.events, err = startEvents(ctx, a.cfg, a.db, a.engine, a.sec.keys, a.packs, a.log); err != nil {
		return err
	}
	if sealer := sealerOf(a.sec.keys); sealer != nil {
		a.events.webhooks.Sealer = sealer
	}
	return nil
}

// openDataDirs sets the modes that let a separate action user reach its
// pack and environment and nothing else: the data dir can be traversed but
// not listed (the database, keys and tokens in it are 0600), packs and
// environments can be read.
func openDataDirs(cfg Config) error {
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{cfg.DataDir, 0o711}, {cfg.PacksDir, 0o755}, {cfg.Packs.EnvsDir, 0o755}} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return fmt.Errorf("creating %s: %w", d.path, err)
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			return fmt.Errorf("setting the mode of %s: %w", d.path, err)
		}
	}
	return nil
}

// stopWork stops events and the engine once: no new jobs are taken,
// running actions may finish within the shutdown timeout, and those still
// running then are canceled (or handed back to the queue when idempotent).
func (a *app) stopWork() {
	a.stopOnce.Do(func() {
		if a.engine == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		defer cancel()
		if a.events != nil {
			a.events.stop(ctx)
		}
		a.engine.stop(ctx)
	})
}

// Close stops the work (see stopWork) and closes the database.
func (a *app) Close() error {
	a.stopWork()
	return a.db.Close()
}

func migrateOnly(ctx context.Context, cfg Config, log *slog.Logger) error {
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	return a.Close()
}

// serve runs the configured roles until ctx ends, then stops gracefully.
func serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	_, closeMetrics, err := a.serveMetrics(log)
	if err != nil {
		return err
	}
	defer closeMetrics()
	if !cfg.HasRole("api") {
		if err := a.start(ctx); err != nil {
			return err
		}
		<-ctx.Done()
		a.shutdown()
		return nil
	}
	// Listen first: actions are told the API's real address (a port 0
	// becomes the one the system chose).
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	defer func() { _ = ln.Close() }()
	if a.cfg.Worker.APIURL == "" {
		a.cfg.Worker.APIURL = "http://" + ln.Addr().String()
	}
	if err := a.start(ctx); err != nil {
		return err
	}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("attune listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String()+"/",
		"roles", strings.Join(cfg.Roles, ","))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// The API serves while the actions finish: they may call it, and
	// clients see their outcomes. readyz says the node is going.
	a.shutdown()
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpDrainTimeout)
	defer cancel()
	if err := srv.Shutdown(hctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("closing HTTP requests still open", "error", err)
		_ = srv.Close()
	}
	return nil
}

// httpDrainTimeout bounds the wait for HTTP requests still in flight once
// the work has stopped.
const httpDrainTimeout = 5 * time.Second

// shutdown stops the work on the shutdown signal and says so in the log.
func (a *app) shutdown() {
	a.log.Info("shutting down", "timeout", a.cfg.ShutdownTimeout)
	a.draining.Store(true)
	a.stopWork()
	a.log.Info("shutdown complete")
}

// handler routes the HTTP surface: GraphQL, the playground and health.
func (a *app) handler() http.Handler {
	gql := graph.NewHandler(&graph.Resolver{
		Client: a.db.Ent, Packs: a.packs, Executions: a.engine.svc, Workflows: a.engine.workflows, InquiryService: a.engine.inquiries,
		Tokens: a.sec.tokens, Keys: a.sec.keys, Logger: a.log,
		Events: a.engine.rules, Webhooks: a.events.webhooks, Sensors: a.events.sensors,
		Isolation: a.sandbox.Status(), Policies: actionpolicy.NewService(a.db),
	}, graph.Options{
		WebsocketInit:  graph.WebsocketAuth(a.sec.tokens),
		PersistedOnly:  a.persisted,
		Logger:         a.log,
		Introspection:  a.cfg.GraphQL.Introspection,
		OriginPatterns: originPatterns(a.cfg.CORS.AllowedOrigins),
		MaxComplexity:  a.cfg.GraphQL.MaxComplexity,
		MaxUploadBytes: a.cfg.GraphQL.MaxUploadBytes,
		Document: graph.DocumentLimits{
			MaxTokens:          a.cfg.GraphQL.MaxTokens,
			MaxFields:          a.cfg.GraphQL.MaxFields,
			MaxFragmentSpreads: a.cfg.GraphQL.MaxFragmentSpreads,
			MaxDirectives:      a.cfg.GraphQL.MaxDirectives,
			MaxDepth:           a.cfg.GraphQL.MaxDepth,
		},
		MaxFilterPredicates: a.cfg.GraphQL.MaxFilterPredicates,
		Metrics:             a.metrics,
		OperationNames:      a.operationNames(),
	})
	mux := http.NewServeMux()
	mux.Handle("/graphql", graph.CodedErrors(graph.Authenticate(a.sec.tokens,
		graph.BodyLimit(a.cfg.GraphQL.MaxBodyBytes, a.cfg.GraphQL.MaxUploadBytes, gql))))
	mux.Handle("POST "+trigger.PathPrefix+"{ref}", a.events.webhookHandler())
	mux.Handle("POST "+trigger.St2PathPrefix+"{hook...}", a.events.st2WebhookHandler(a.sec.tokens))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", a.metricsHandler())
	// Browsers ask for /favicon.ico on every page; a 404 reads like a fault
	// in the console. No content, and a day before they ask again.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.WriteHeader(http.StatusNoContent)
	})
	debugRoutes(mux, a.cfg.Debug, a.statements, a.db.SQL.Stats)
	if a.cfg.GraphQL.Playground {
		if !playground.Available() {
			a.log.Warn("GraphiQL assets not embedded; run `make assets` and rebuild")
		}
		pg := playground.Handler("attune", "/graphql", "/playground/assets/")
		mux.Handle("GET /{$}", pg)
		mux.Handle("GET /playground/assets/", pg)
	}
	return corsHandler(a.cfg.CORS.AllowedOrigins).Handler(mux)
}

func (a *app) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	if a.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable","reason":"shutting down"}`))
		return
	}
	if err := a.db.SQL.PingContext(ctx); err != nil {
		a.log.Warn("readyz: database unreachable", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable","reason":"database unreachable"}`))
		return
	}
	pending, err := a.db.Pending(ctx)
	if err != nil {
		a.log.Warn("readyz: reading migration state", "error", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable","reason":"migration state unreadable"}`))
		return
	}
	if len(pending) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable","reason":"migrations pending"}`))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ready"}`))
}

// corsHandler allows the configured origins; credentials only for origins
// listed explicitly, never with a bare "*".
func corsHandler(origins []string) *cors.Cors {
	anyOrigin := false
	for _, o := range origins {
		if o == "*" {
			anyOrigin = true
		}
	}
	return cors.New(cors.Options{
		AllowedOrigins:   origins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodOptions},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "Apollo-Require-Preflight", "X-Apollo-Operation-Name"},
		AllowCredentials: !anyOrigin,
		MaxAge:           600,
	})
}

// originPatterns turns CORS origins into coder/websocket host patterns, so
// the websocket accepts exactly the browser origins CORS does.
func originPatterns(origins []string) []string {
	out := make([]string, 0, len(origins))
	for _, o := range origins {
		if i := strings.Index(o, "://"); i >= 0 {
			o = o[i+3:]
		}
		out = append(out, o)
	}
	return out
}

// loadPersisted reads the allowlist of a persisted-queries-only server:
// a JSON list of documents or an Apollo persisted-query manifest.
func loadPersisted(path string) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("graphql.persisted_queries_file: %w", err)
	}
	allow, err := graph.AllowlistFromJSON(b)
	if err != nil {
		return nil, fmt.Errorf("graphql.persisted_queries_file %s: %w", path, err)
	}
	return allow, nil
}
