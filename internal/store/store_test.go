package store_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/store"
)

// TestMigrationsMatchSchema fails when ent/schema changed without a
// regenerated migration: after applying migrations/, ent finds nothing to do.
func TestMigrationsMatchSchema(t *testing.T) {
	t.Parallel()
	// Not dbtest.Run: ent's schema diff writes package-level tables, so the
	// two backends take turns.
	for _, backend := range dbtest.Backends {
		t.Run(backend, func(t *testing.T) { migrationsMatchSchema(t, backend) })
	}
}

func migrationsMatchSchema(t *testing.T, backend string) {
	db := dbtest.Open(t, backend)
	var buf bytes.Buffer
	require.NoError(t, db.Ent.Schema.WriteTo(t.Context(), &buf))
	var changes []string
	for _, l := range strings.Split(buf.String(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l == "BEGIN;" || l == "COMMIT;" {
			continue
		}
		changes = append(changes, l)
	}
	require.Empty(t, changes, "ent schema and migrations differ; run make generate")
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		db := dbtest.Open(t, backend)
		require.NoError(t, db.Migrate(t.Context()))
		pending, err := db.Pending(t.Context())
		require.NoError(t, err)
		require.Empty(t, pending)
	})
}

func TestInTxRollsBack(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		db := dbtest.Open(t, backend)
		boom := errors.New("boom")
		err := db.InTx(t.Context(), func(tx *store.Tx) error {
			tx.Ent.Pack.Create().SetRef("rolled").SaveX(t.Context())
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Zero(t, db.Ent.Pack.Query().CountX(t.Context()))
		require.NoError(t, db.InTx(t.Context(), func(tx *store.Tx) error {
			return tx.Ent.Pack.Create().SetRef("kept").Exec(t.Context())
		}))
		require.Equal(t, 1, db.Ent.Pack.Query().CountX(t.Context()))
	})
}
