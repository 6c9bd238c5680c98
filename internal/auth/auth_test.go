package auth_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/auth"
	"github.com/attune-io/attune/internal/dbtest"
)

func TestRoles(t *testing.T) {
	t.Parallel()
	order := []auth.Role{auth.Viewer, auth.Operator, auth.Editor, auth.Admin}
	for i, r := range order {
		for j, min := range order {
			require.Equal(t, i >= j, r.AtLeast(min), "%s at least %s", r, min)
		}
	}
	require.False(t, auth.Role("ROOT").AtLeast(auth.Viewer))
	p := &auth.Principal{Packs: []string{"a"}}
	require.True(t, p.CanSeeRef("a.x"))
	require.True(t, p.CanSeePack("a"))
	require.False(t, p.CanSeeRef("b.x"))
	require.True(t, (&auth.Principal{}).CanSeeRef("anything.x"))
}

func TestTokens(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		db := dbtest.Open(t, backend)
		s := auth.NewService(db)
		ctx := t.Context()
		token, row, err := s.Create(ctx, auth.CreateRequest{Name: "ci", Role: auth.Operator, Packs: []string{"p"}})
		require.NoError(t, err)
		require.NotContains(t, row.TokenHash, token)
		require.Equal(t, auth.Hash(token), row.TokenHash)

		p, err := s.Authenticate(ctx, token)
		require.NoError(t, err)
		require.Equal(t, auth.Operator, p.Role)
		require.Equal(t, []string{"p"}, p.Packs)

		for _, bad := range []string{"", "att_nope"} {
			_, err = s.Authenticate(ctx, bad)
			require.Equal(t, apperr.Unauthenticated, apperr.CodeOf(err))
		}
		_, err = s.Revoke(ctx, row.ID)
		require.NoError(t, err)
		_, err = s.Authenticate(ctx, token)
		require.Equal(t, apperr.Unauthenticated, apperr.CodeOf(err))

		past := time.Now().Add(-time.Minute)
		_, _, err = s.Create(ctx, auth.CreateRequest{Name: "old", Role: auth.Viewer, ExpiresAt: &past})
		require.Equal(t, apperr.BadUserInput, apperr.CodeOf(err))
		_, _, err = s.Create(ctx, auth.CreateRequest{Name: "x", Role: "ROOT"})
		require.Equal(t, apperr.BadUserInput, apperr.CodeOf(err))
		_, err = s.Revoke(ctx, 424242)
		require.Equal(t, apperr.NotFound, apperr.CodeOf(err))
	})
}

func TestBootstrap(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		db := dbtest.Open(t, backend)
		s := auth.NewService(db)
		dir := t.TempDir()
		token, err := s.Bootstrap(t.Context(), dir, "")
		require.NoError(t, err)
		require.NotEmpty(t, token)
		info, err := os.Stat(filepath.Join(dir, auth.AdminTokenFile))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
		p, err := s.Authenticate(t.Context(), token)
		require.NoError(t, err)
		require.Equal(t, auth.Admin, p.Role)

		again, err := s.Bootstrap(t.Context(), dir, "")
		require.NoError(t, err)
		require.Empty(t, again, "a second start creates nothing")

		const env = "att_automation-token-123456"
		_, err = s.Bootstrap(t.Context(), dir, env)
		require.NoError(t, err)
		p, err = s.Authenticate(t.Context(), env)
		require.NoError(t, err)
		require.Equal(t, auth.Admin, p.Role)
	})
}
