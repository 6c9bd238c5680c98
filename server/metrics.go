package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/attune-io/attune/graph"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/auth"
	"github.com/attune-io/attune/internal/cli"
	"github.com/attune-io/attune/internal/metrics"
	"github.com/attune-io/attune/internal/queue"
)

// MetricsConfig says where Prometheus scrapes this node. GET /metrics on
// the main listener always answers, to a token of the METRICS role (or
// ADMIN); Listen adds a listener of its own that serves only /metrics,
// without authentication, for nodes without the api role and for scrapers
// that hold no token.
type MetricsConfig struct {
	// Listen is the address of the metrics listener, empty for none. A
	// bare port (":9464") listens on loopback (127.0.0.1:9464); give a
	// host (0.0.0.0:9464) to be scraped from elsewhere, behind a firewall.
	Listen string `yaml:"listen"`
}

// validate checks the address and makes a bare port loopback.
func (c *MetricsConfig) validate() error {
	if c.Listen == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("metrics.listen %q: %w", c.Listen, err)
	}
	if host == "" {
		c.Listen = net.JoinHostPort("127.0.0.1", port)
	}
	return nil
}

// queueDepthTimeout bounds the read of the queue depth at each scrape.
const queueDepthTimeout = 2 * time.Second

// newMetrics creates this process's registry with its database pools.
func newMetrics(a *app) *metrics.Metrics {
	m := metrics.New()
	m.CollectDB("write", a.db.SQL)
	if r := a.db.Reader(); r != a.db.SQL {
		m.CollectDB("read", r)
	}
	return m
}

// collectQueue reports the queue's depth and the pending inquiries, read
// at scrape time.
func (a *app) collectQueue() {
	a.metrics.CollectQueueDepth(a.engine.queue.Depth, queueDepthTimeout, queue.Queues, queue.PendingStates)
	a.metrics.CollectPendingInquiries(a.engine.inquiries.Pending, queueDepthTimeout)
}

// operationNames are the GraphQL operations counted by name: the command
// line client's and those of the persisted-query allowlist.
func (a *app) operationNames() []string {
	docs := []string{cli.Operations}
	for _, d := range a.persisted {
		docs = append(docs, d)
	}
	return graph.OperationNames(docs...)
}

// metricsHandler serves /metrics on the main listener to a token of the
// METRICS role or ADMIN: 401 without a valid token, 403 for another role.
// With authentication off (loopback only) it answers everyone.
func (a *app) metricsHandler() http.Handler {
	h := a.metrics.Handler()
	tokens := a.sec.tokens
	if tokens == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := strings.TrimSpace(r.Header.Get("Authorization"))
		token, ok := strings.CutPrefix(header, "Bearer ")
		if !ok {
			token, _ = strings.CutPrefix(header, "bearer ")
		}
		p, err := tokens.Authenticate(r.Context(), token)
		if err != nil {
			if ae, client := apperr.As(err); client {
				w.Header().Set("WWW-Authenticate", `Bearer realm="attune"`)
				http.Error(w, ae.Message, http.StatusUnauthorized)
				return
			}
			a.log.Error("authenticating a metrics scrape", "error", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if !p.Role.MayScrape() {
			http.Error(w, fmt.Sprintf("role %s may not read metrics (needs %s)", p.Role, auth.Metrics), http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// serveMetrics starts the metrics listener (metrics.listen) and returns
// its address and a function that closes it; nothing when unset.
func (a *app) serveMetrics(log *slog.Logger) (string, func(), error) {
	if a.cfg.Metrics.Listen == "" {
		return "", func() {}, nil
	}
	ln, err := net.Listen("tcp", a.cfg.Metrics.Listen)
	if err != nil {
		return "", nil, fmt.Errorf("metrics.listen %s: %w", a.cfg.Metrics.Listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "error", err)
		}
	}()
	log.Info("metrics listening", "url", "http://"+ln.Addr().String()+"/metrics")
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), httpDrainTimeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
