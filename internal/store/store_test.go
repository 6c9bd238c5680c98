package store_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
)

// TestMigrationsMatchSchema fails when ent/schema changed without a
// regenerated migration: after applying migrations/, ent finds nothing to do.
func TestMigrationsMatchSchema(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
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
	})
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
