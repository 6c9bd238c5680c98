package notify_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/store"
)

// TestChannelSQL checks that statements announcing through
// notify.ChannelSQL reach notify.Bus subscribers.
func TestChannelSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.URL(t, "postgres")
	db, err := store.Open(ctx, url, "")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	bus, err := notify.New(ctx, db, url, slog.Default())
	require.NoError(t, err)
	t.Cleanup(bus.Close)
	sub := bus.Subscribe(func(ev notify.Event) bool { return ev.Kind == notify.Status })
	defer sub.Close()

	payload, err := json.Marshal(notify.Event{Kind: notify.Status, ID: 42})
	require.NoError(t, err)
	_, err = db.SQL.ExecContext(ctx, `SELECT pg_notify(`+notify.ChannelSQL+`, $1)`, string(payload))
	require.NoError(t, err)
	select {
	case <-sub.Ready():
		require.Equal(t, []notify.Event{{Kind: notify.Status, ID: 42}}, sub.Take())
	case <-time.After(time.Minute):
		t.Fatal("the bus did not hear the announcement")
	}
}
