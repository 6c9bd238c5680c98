// Package auth authenticates API tokens and says what a role may do. Tokens
// are random, shown once, and stored only as a SHA-256 hash.
package auth

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/attune-io/attune/ent/schema"
)

// Role is what a token may do; each role includes the ones below it.
type Role string

// The roles, most powerful first.
const (
	Admin    Role = "ADMIN"
	Editor   Role = "EDITOR"
	Operator Role = "OPERATOR"
	Viewer   Role = "VIEWER"
	// Metrics may scrape /metrics and nothing else: it includes no other
	// role and no other role includes it, except ADMIN.
	Metrics Role = schema.MetricsRole
)

var rank = map[Role]int{Admin: 4, Editor: 3, Operator: 2, Viewer: 1}

// AtLeast reports whether r includes min.
func (r Role) AtLeast(min Role) bool { return rank[r] >= rank[min] && rank[r] > 0 }

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return rank[r] > 0 || r == Metrics }

// MayScrape reports whether r may read /metrics: METRICS and ADMIN.
func (r Role) MayScrape() bool { return r == Metrics || r == Admin }

// Principal is who a request acts as.
type Principal struct {
	TokenID int
	Name    string
	Role    Role
	// Packs, when not empty, limits the principal to these packs.
	Packs []string
	// ExpiresAt is when the token stops working, nil for never.
	ExpiresAt *time.Time
	// ExecutionID is set for the token of one run of a StackStorm Python
	// action (MintForExecution): it reaches only the key/value store.
	ExecutionID int
}

// ViewerRole, ViewerPacks and ViewerTokenID make p the viewer of ent's read
// policy (ent/schema/privacy.go).
func (p *Principal) ViewerRole() string    { return string(p.Role) }
func (p *Principal) ViewerPacks() []string { return p.Packs }
func (p *Principal) ViewerTokenID() int    { return p.TokenID }

// ViewerExecutionID makes an execution's token read only keys
// (ent/schema/privacy.go).
func (p *Principal) ViewerExecutionID() int { return p.ExecutionID }

// System is the principal of the server's own work and of a server run
// with authentication off: everything, no pack limit.
var System = &Principal{Name: "system", Role: Admin}

// SystemContext returns ctx reading every row whoever it acts for, for the
// server's own reads on a request's behalf: authenticating a token, the
// keys a template names. Its writes are still the request's.
func SystemContext(ctx context.Context) context.Context { return schema.SystemContext(ctx) }

// CanSeePack reports whether p may see and act on pack ref.
func (p *Principal) CanSeePack(ref string) bool {
	return len(p.Packs) == 0 || slices.Contains(p.Packs, ref)
}

// CanSeeRef reports whether p may see a component ref "pack.name" (or an
// API rule's ref, whose first segment plays the pack's part).
func (p *Principal) CanSeeRef(ref string) bool {
	pack, _, _ := strings.Cut(ref, ".")
	return p.CanSeePack(pack)
}

// WithPrincipal returns ctx acting as p; every query made with it reads
// what p may read (ent/schema/privacy.go).
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return schema.NewViewerContext(ctx, p)
}

// FromContext returns the principal ctx acts as, if any. Code paths without
// one (workers, timers) are the server's own and see everything.
func FromContext(ctx context.Context) (*Principal, bool) {
	v, _ := schema.ViewerFromContext(ctx)
	p, ok := v.(*Principal)
	return p, ok
}
