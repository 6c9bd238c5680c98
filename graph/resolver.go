// Package graph is the GraphQL layer: thin resolvers over internal services
// and ent, one error presenter, and the HTTP handler.
package graph

import (
	"log/slog"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/internal/auth"
	"github.com/attune-io/attune/internal/execution"
	"github.com/attune-io/attune/internal/inquiry"
	"github.com/attune-io/attune/internal/keystore"
	"github.com/attune-io/attune/internal/pack"
	"github.com/attune-io/attune/internal/policy"
	"github.com/attune-io/attune/internal/rule"
	"github.com/attune-io/attune/internal/sandbox"
	"github.com/attune-io/attune/internal/sensor"
	"github.com/attune-io/attune/internal/trigger"
	wfengine "github.com/attune-io/attune/internal/workflow/engine"
)

// Resolver holds the dependencies every resolver needs.
type Resolver struct {
	Client *ent.Client
	Packs  *pack.Service
	// Executions runs, cancels and streams executions.
	Executions *execution.Service
	// Workflows pauses and resumes workflows.
	Workflows *wfengine.Engine
	// Tokens authenticates requests and manages API tokens.
	Tokens *auth.Service
	// Keys is the key/value store.
	Keys *keystore.Service
	// Events stores events and manages and evaluates rules.
	Events *rule.Engine
	// Webhooks manages webhook keys.
	Webhooks *trigger.Webhooks
	// Policies creates, changes and deletes action policies.
	Policies *policy.Service
	// Inquiries answers, cancels and streams inquiries.
	InquiryService *inquiry.Service
	// Sensors enables and disables sensors.
	Sensors *sensor.Supervisor
	// Isolation says how this node confines action processes (systemInfo).
	Isolation sandbox.Status
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

func (r *Resolver) log() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

// deref reads an optional argument, the zero value when absent.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// nonNil turns a nil list into an empty one for non-null list fields.
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
