package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/auth"
	"github.com/attune-io/attune/internal/keystore"
	"github.com/attune-io/attune/internal/lease"
	"github.com/attune-io/attune/internal/metrics"
	"github.com/attune-io/attune/internal/pack"
	"github.com/attune-io/attune/internal/sensor"
	"github.com/attune-io/attune/internal/store"
	"github.com/attune-io/attune/internal/trigger"
)

// EventsConfig sets the event pipeline: webhooks, timers (timers role),
// sensors (sensor role) and rule evaluation (worker role).
type EventsConfig struct {
	// Concurrency is how many rule evaluations a worker node runs at once.
	Concurrency int `yaml:"concurrency"`
	// WebhookMaxBytes caps a webhook request body (413 above it).
	WebhookMaxBytes int64 `yaml:"webhook_max_bytes"`
	// LeaseTTL is how long a node that died keeps the timers or a sensor
	// before another node takes over.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// TimerCatchUp is how far back a new timers leader fires ticks nobody
	// fired; 0 skips ticks missed while no node led.
	TimerCatchUp time.Duration `yaml:"timer_catch_up"`
	// SensorPoll is how often a sensor node reconciles its processes with
	// the enabled sensors and rules.
	SensorPoll time.Duration `yaml:"sensor_poll"`
	// SensorBackoffMin and SensorBackoffMax bound a crashed sensor's restart delay.
	SensorBackoffMin time.Duration `yaml:"sensor_backoff_min"`
	SensorBackoffMax time.Duration `yaml:"sensor_backoff_max"`
}

// defaultEventsConfig is the events section of DefaultConfig.
func defaultEventsConfig() EventsConfig {
	return EventsConfig{
		Concurrency:      10,
		WebhookMaxBytes:  1 << 20,
		LeaseTTL:         15 * time.Second,
		SensorPoll:       2 * time.Second,
		SensorBackoffMin: time.Second,
		SensorBackoffMax: time.Minute,
	}
}

// validate checks the events section.
func (c EventsConfig) validate() error {
	switch {
	case c.Concurrency < 1:
		return fmt.Errorf("events.concurrency must be at least 1")
	case c.WebhookMaxBytes < 1:
		return fmt.Errorf("events.webhook_max_bytes must be positive")
	case c.LeaseTTL < time.Second:
		return fmt.Errorf("events.lease_ttl must be at least 1s")
	case c.SensorPoll <= 0 || 3*c.SensorPoll > c.LeaseTTL:
		return fmt.Errorf("events.sensor_poll must be positive and at most a third of events.lease_ttl")
	case c.TimerCatchUp < 0:
		return fmt.Errorf("events.timer_catch_up must not be negative")
	}
	return nil
}

// events is the event pipeline of one process: webhooks on API nodes,
// timers and sensors on nodes with those roles.
type events struct {
	log      *slog.Logger
	webhooks *trigger.Webhooks
	sensors  *sensor.Supervisor
	timers   *trigger.Timers
	// execTriggers emits StackStorm's action and notify triggers (worker role).
	execTriggers *trigger.ExecutionTriggers
	maxBody      int64
	metrics      *metrics.Metrics
}

// startEvents starts the timers and sensors the roles ask for; rule
// evaluation runs in the engine's queue (worker role).
func startEvents(ctx context.Context, cfg Config, db *store.DB, eng *engine, keys *keystore.Service, packs *pack.Service, log *slog.Logger) (*events, error) {
	holder, err := nodeName()
	if err != nil {
		return nil, err
	}
	leases := lease.New(db, holder, cfg.Events.LeaseTTL, nil)
	tmp := filepath.Join(cfg.DataDir, "tmp", "sensors")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("creating sensor temp dir: %w", err)
	}
	ev := &events{
		log:      log,
		webhooks: trigger.NewWebhooks(db, eng.rules),
		sensors: sensor.NewSupervisor(db, eng.rules, leases, sensor.Options{
			Poll: cfg.Events.SensorPoll, BackoffMin: cfg.Events.SensorBackoffMin,
			BackoffMax: cfg.Events.SensorBackoffMax, KillGrace: cfg.Worker.KillGrace,
			TempDir: tmp, PackConfig: eng.configs.Effective, Keys: keys, Packs: packs, Logger: log.With("component", "sensors"),
			Metrics: eng.metrics,
		}),
		maxBody: cfg.Events.WebhookMaxBytes,
		metrics: eng.metrics,
	}
	if cfg.HasRole("timers") {
		ev.timers = trigger.NewTimers(db, eng.rules, leases, trigger.TimerOptions{
			CatchUp: cfg.Events.TimerCatchUp, Logger: log.With("component", "timers"),
		})
		ev.timers.Start(ctx)
	}
	if cfg.HasRole("sensor") {
		ev.sensors.Start(ctx)
	}
	if eng.triggers != nil {
		ev.execTriggers = eng.triggers
		ev.execTriggers.Start(ctx)
	}
	return ev, nil
}

// stop stops timers and sensor processes and releases their leases.
func (ev *events) stop(ctx context.Context) {
	if ev.timers != nil {
		ev.timers.Stop(ctx)
	}
	if ev.execTriggers != nil {
		ev.execTriggers.Stop()
	}
	ev.sensors.Stop(ctx)
}

// nodeName identifies this process in leases: host, pid and a random part.
func nodeName() (string, error) {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("naming node: %w", err)
	}
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b)), nil
}

// webhookHandler serves POST /webhooks/{ref}: 202 {"eventId"} when stored;
// 404 for an unknown trigger or one without webhooks, 401 without a valid
// key or signature, 413 over the size limit, 400 for a body that is not a
// JSON object or violates the payload schema (details in "fields").
func (ev *events) webhookHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The trigger is labelled only once found with its webhook on.
		rw := &codeWriter{ResponseWriter: w}
		w, found := rw, false
		defer func() {
			label := metrics.Other
			if found {
				label = r.PathValue("ref")
			}
			ev.metrics.WebhookRequest(label, rw.code)
		}()
		body, err := io.ReadAll(http.MaxBytesReader(rw.ResponseWriter, r.Body, ev.maxBody))
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": fmt.Sprintf("body exceeds %d bytes", ev.maxBody)})
			return
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "reading body failed"})
			return
		}
		e, err := ev.webhooks.Receive(r.Context(), trigger.Request{
			Trigger: r.PathValue("ref"), Key: r.Header.Get(trigger.KeyHeader),
			Signature: r.Header.Get(trigger.SignatureHeader), Body: body,
		})
		ae, client := apperr.As(err)
		found = err == nil || errors.Is(err, trigger.ErrUnauthorized) || (client && ae.Code == apperr.BadUserInput)
		switch {
		case err == nil:
			writeJSON(w, http.StatusAccepted, map[string]any{"eventId": e.ID})
		case errors.Is(err, trigger.ErrNoWebhook), client && ae.Code == apperr.NotFound:
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "no webhook for this trigger"})
		case errors.Is(err, trigger.ErrUnauthorized):
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": err.Error()})
		case client && ae.Code == apperr.BadUserInput:
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": ae.Message, "fields": ae.Details["fields"]})
		default:
			ev.log.Error("webhook failed", "trigger", r.PathValue("ref"), "error", err)
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "internal error"})
		}
	})
}

// st2WebhookHandler serves StackStorm's POST /api/v1/webhooks/{hook}: 202
// with the body echoed once the events are stored, as StackStorm answers.
// The caller authenticates as StackStorm's clients do, with an attune token
// in X-Auth-Token or St2-Api-Key (or Authorization: Bearer), or in the
// x-auth-token or st2-api-key query parameter, and needs OPERATOR (as for
// emitEvent); a pack-limited token reaches only its packs' rules. Errors
// are StackStorm's {"faultstring": …}: 401, 403, 404 for a hook no enabled
// rule has, 413, 400 for a body that cannot be read.
func (ev *events) st2WebhookHandler(tokens *auth.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// StackStorm's hooks are rules of one trigger, labelled by its ref.
		rw := &codeWriter{ResponseWriter: w}
		w = rw
		defer func() { ev.metrics.WebhookRequest(trigger.St2Webhook, rw.code) }()
		fault := func(status int, msg string) { writeJSON(w, status, map[string]any{"faultstring": msg}) }
		p := auth.System
		if tokens != nil {
			token := cmp.Or(r.Header.Get("X-Auth-Token"), r.Header.Get("St2-Api-Key"),
				r.URL.Query().Get("x-auth-token"), r.URL.Query().Get("st2-api-key"))
			if token == "" {
				bearer, _ := strings.CutPrefix(strings.TrimSpace(r.Header.Get("Authorization")), "Bearer ")
				token = bearer
			}
			if strings.TrimSpace(token) == "" {
				fault(http.StatusUnauthorized, "Unauthorized - One of Token or API key required.")
				return
			}
			var err error
			if p, err = tokens.Authenticate(r.Context(), token); err != nil {
				if ae, client := apperr.As(err); client {
					fault(http.StatusUnauthorized, "Unauthorized - "+ae.Message)
				} else {
					ev.log.Error("authenticating webhook", "error", err)
					fault(http.StatusInternalServerError, "internal error")
				}
				return
			}
			if !p.Role.AtLeast(auth.Operator) {
				fault(http.StatusForbidden, fmt.Sprintf("role %s may not send webhooks (needs %s)", p.Role, auth.Operator))
				return
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(rw.ResponseWriter, r.Body, ev.maxBody))
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			fault(http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds %d bytes", ev.maxBody))
			return
		}
		if err != nil {
			fault(http.StatusBadRequest, "reading body failed")
			return
		}
		hook := r.PathValue("hook")
		header := r.Header.Clone() // with Host, which net/http keeps apart, as StackStorm's headers have it
		header.Set("Host", r.Host)
		res, err := ev.webhooks.ReceiveSt2(r.Context(), trigger.St2Request{
			Hook: hook, Header: header, Body: body, Allowed: p.CanSeeRef,
		})
		ae, client := apperr.As(err)
		switch {
		case err == nil:
			writeJSON(w, http.StatusAccepted, res.Body)
		case errors.Is(err, trigger.ErrNoHook):
			fault(http.StatusNotFound, fmt.Sprintf("Webhook %s not registered with st2", hook))
		case client && ae.Code == apperr.NotFound:
			fault(http.StatusNotFound, ae.Message)
		case client && ae.Code == apperr.BadUserInput:
			fault(http.StatusBadRequest, ae.Message)
		default:
			ev.log.Error("webhook failed", "hook", hook, "error", err)
			fault(http.StatusInternalServerError, "internal error")
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// codeWriter remembers the status code written, for the metrics.
type codeWriter struct {
	http.ResponseWriter
	code int
}

func (c *codeWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeWriter) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.MaxBytesReader and http.ResponseController reach the
// underlying writer.
func (c *codeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
