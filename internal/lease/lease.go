// Package lease gives one node at a time a named duty (firing timers,
// running a sensor) among all nodes sharing the database. A lease is a row
// with a holder and an expiry: the holder renews it well before it
// expires, and when the holder dies another node takes it once it has
// expired. Expiry is compared with the nodes' clocks, so they must agree
// to well within the TTL (NTP does that).
package lease

import (
	"context"
	"fmt"
	"time"

	"github.com/attune-io/attune/ent"
	entlease "github.com/attune-io/attune/ent/lease"
	"github.com/attune-io/attune/internal/store"
)

// Leases takes and renews leases for one holder.
type Leases struct {
	db     *store.DB
	holder string
	ttl    time.Duration
	now    func() time.Time
}

// New returns the leases of holder (unique per process), each valid for
// ttl after its last renewal. now nil means time.Now.
func New(db *store.DB, holder string, ttl time.Duration, now func() time.Time) *Leases {
	if now == nil {
		now = time.Now
	}
	return &Leases{db: db, holder: holder, ttl: ttl, now: now}
}

// TTL is how long a lease lasts without renewal; renew at a third of it.
func (l *Leases) TTL() time.Duration { return l.ttl }

// Holder names this process in lease rows.
func (l *Leases) Holder() string { return l.holder }

// Acquire takes the lease named name, or renews it when this holder has
// it, and reports whether this holder now has it. The conditional update
// is atomic, so of several nodes racing for an expired lease one wins.
func (l *Leases) Acquire(ctx context.Context, name string) (bool, error) {
	now := l.now()
	n, err := l.db.Ent.Lease.Update().
		Where(entlease.Name(name), entlease.Or(entlease.Holder(l.holder), entlease.ExpiresAtLT(now))).
		SetHolder(l.holder).SetExpiresAt(now.Add(l.ttl)).Save(ctx)
	if err != nil {
		return false, fmt.Errorf("renewing lease %s: %w", name, err)
	}
	if n > 0 {
		return true, nil
	}
	err = l.db.Ent.Lease.Create().SetName(name).SetHolder(l.holder).SetExpiresAt(now.Add(l.ttl)).Exec(ctx)
	switch {
	case ent.IsConstraintError(err):
		return false, nil // someone else holds it
	case err != nil:
		return false, fmt.Errorf("taking lease %s: %w", name, err)
	}
	return true, nil
}

// Release gives the lease up at once, if this holder has it, so another
// node need not wait for it to expire.
func (l *Leases) Release(ctx context.Context, name string) error {
	_, err := l.db.Ent.Lease.Delete().Where(entlease.Name(name), entlease.Holder(l.holder)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("releasing lease %s: %w", name, err)
	}
	return nil
}
