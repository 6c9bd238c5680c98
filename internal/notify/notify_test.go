package notify_test

import (
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/store"
)

// TestDelivery publishes on one bus and receives on another over the same
// database (two nodes on PostgreSQL; in-process on SQLite, one bus), with
// filtering and coalescing.
func TestDelivery(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		_, pub, sub := buses(t, backend)
		s := sub.Subscribe(func(ev notify.Event) bool { return ev.ID == 7 })
		defer s.Close()
		for _, ev := range []notify.Event{
			{Kind: notify.Output, ID: 7, Seq: 1}, {Kind: notify.Output, ID: 8, Seq: 1},
			{Kind: notify.Output, ID: 7, Seq: 3}, {Kind: notify.Status, ID: 7},
		} {
			require.NoError(t, pub.Publish(ctx, ev))
		}
		want := []notify.Event{{Kind: notify.Output, ID: 7, Seq: 3}, {Kind: notify.Status, ID: 7}}
		var got []notify.Event
		timeout := time.After(30 * time.Second)
		for len(got) < len(want) || !slices.Contains(got, want[0]) {
			select {
			case <-s.Ready():
				got = merge(got, s.Take())
			case <-timeout:
				t.Fatalf("got %v, want %v", got, want)
			}
		}
		require.ElementsMatch(t, want, got)
	})
}

// buses opens a fresh database and a bus publishing on it and one
// subscribing: another node's on PostgreSQL, the same one on SQLite (one
// process).
func buses(t *testing.T, backend string) (db *store.DB, pub, sub *notify.Bus) {
	t.Helper()
	url := dbtest.URL(t, backend)
	db, err := store.Open(t.Context(), url, "")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	pub, err = notify.New(t.Context(), db, url, slog.Default())
	require.NoError(t, err)
	t.Cleanup(pub.Close)
	if backend != "postgres" {
		return db, pub, pub
	}
	sub, err = notify.New(t.Context(), db, url, slog.Default())
	require.NoError(t, err)
	t.Cleanup(sub.Close)
	return db, pub, sub
}

// merge keeps the latest event per kind and id, as a subscriber would.
func merge(have, more []notify.Event) []notify.Event {
	for _, ev := range more {
		have = slices.DeleteFunc(have, func(h notify.Event) bool { return h.Kind == ev.Kind && h.ID == ev.ID })
		have = append(have, ev)
	}
	return have
}

// TestPublishAfterCommit announces only what committed, on every node.
func TestPublishAfterCommit(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		db, pub, sub := buses(t, backend)
		s := sub.Subscribe(func(notify.Event) bool { return true })
		defer s.Close()
		rolledBack := notify.Event{Kind: notify.EventCreated, ID: 1}
		committed := []notify.Event{{Kind: notify.EventCreated, ID: 2}, {Kind: notify.EnforcementCreated, ID: 3}}
		_ = db.InTx(ctx, func(tx *store.Tx) error {
			pub.PublishAfterCommit(tx, rolledBack)
			return errors.New("roll back")
		})
		require.NoError(t, db.InTx(ctx, func(tx *store.Tx) error {
			for _, ev := range committed {
				pub.PublishAfterCommit(tx, ev)
			}
			select {
			case <-s.Ready():
				t.Fatalf("announced before the commit: %v", s.Take())
			default:
			}
			return nil
		}))
		var got []notify.Event
		timeout := time.After(30 * time.Second)
		for len(got) < len(committed) {
			select {
			case <-s.Ready():
				got = merge(got, s.Take())
			case <-timeout:
				t.Fatalf("got %v, want %v", got, committed)
			}
		}
		require.ElementsMatch(t, committed, got, "the rolled-back event is never announced")
	})
}
