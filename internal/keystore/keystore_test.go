package keystore_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/keystore"
)

var key1 = []byte("0123456789abcdef0123456789abcdef")

func TestParseKey(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"hex":    strings.Repeat("ab", 32),
		"base64": base64.StdEncoding.EncodeToString(key1),
		"url":    base64.RawURLEncoding.EncodeToString(key1),
	} {
		k, err := keystore.ParseKey(in)
		require.NoError(t, err, name)
		require.Len(t, k, 32, name)
	}
	_, err := keystore.ParseKey("short")
	require.Error(t, err)
	k, err := keystore.ParseKey("")
	require.NoError(t, err)
	require.Nil(t, k)
}

func TestSecretsRoundTripAndStayEncrypted(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		db := dbtest.Open(t, backend)
		ks, err := keystore.New(db, key1)
		require.NoError(t, err)
		ctx := t.Context()
		_, err = ks.Set(ctx, keystore.SetRequest{Name: "db_password", Value: "s3cr3t-value", Secret: true})
		require.NoError(t, err)
		_, err = ks.Set(ctx, keystore.SetRequest{Name: "region", Value: "eu"})
		require.NoError(t, err)
		_, err = ks.Set(ctx, keystore.SetRequest{Name: "region", Pack: "p", Value: "us"})
		require.NoError(t, err)

		k := db.Ent.Key.Query().AllX(ctx)
		for _, row := range k {
			require.NotContains(t, row.Ciphertext, "s3cr3t-value")
			if row.Secret {
				require.Nil(t, row.Value)
				v, err := ks.Value(row, false)
				require.NoError(t, err)
				require.Nil(t, v, "no plaintext unless asked")
				v, err = ks.Value(row, true)
				require.NoError(t, err)
				require.Equal(t, "s3cr3t-value", v)
			}
		}
		vals, err := ks.Lookup(ctx, "p")
		require.NoError(t, err)
		require.Equal(t, "us", vals.Plain["region"], "the pack's key overlays the system one")
		require.Equal(t, "s3cr3t-value", vals.Plain["db_password"])
		require.True(t, vals.Secrets["db_password"])

		require.NoError(t, ks.CheckStartup(ctx))
		other, err := keystore.New(db, []byte("fedcba9876543210fedcba9876543210"))
		require.NoError(t, err)
		require.ErrorContains(t, other.CheckStartup(ctx), "does not decrypt")
		none, err := keystore.New(db, nil)
		require.NoError(t, err)
		require.ErrorContains(t, none.CheckStartup(ctx), "no encryption key")
		_, err = none.Set(ctx, keystore.SetRequest{Name: "x", Value: 1, Secret: true})
		require.Equal(t, apperr.BadUserInput, apperr.CodeOf(err))

		_, err = ks.Set(ctx, keystore.SetRequest{Name: "bad-name", Value: 1})
		require.Equal(t, apperr.BadUserInput, apperr.CodeOf(err))
		require.NoError(t, ks.Delete(ctx, "region", "p"))
		require.Equal(t, apperr.NotFound, apperr.CodeOf(ks.Delete(ctx, "region", "p")))
	})
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	ks, err := keystore.New(nil, key1)
	require.NoError(t, err)
	sealed, err := ks.Seal([]byte("plain"))
	require.NoError(t, err)
	require.NotContains(t, string(sealed), "plain")
	out, err := ks.Open(sealed)
	require.NoError(t, err)
	require.Equal(t, "plain", string(out))
	sealed[len(sealed)-1] ^= 1
	_, err = ks.Open(sealed)
	require.Error(t, err, "tampering is detected")
}

// TestExpiredKeysAreGone: a key set with a TTL reads as absent once it
// expired, everywhere (queries, templates, delete), and a new set replaces
// it; a set without TTL never expires.
func TestExpiredKeysAreGone(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		db := dbtest.Open(t, backend)
		ks, err := keystore.New(db, key1)
		require.NoError(t, err)
		ctx := t.Context()
		k, err := ks.Set(ctx, keystore.SetRequest{Name: "session", Pack: "p", Value: "abc", TTL: time.Hour})
		require.NoError(t, err)
		require.NotNil(t, k.ExpiresAt)
		require.WithinDuration(t, time.Now().Add(time.Hour), *k.ExpiresAt, time.Minute)
		vals, err := ks.Lookup(ctx, "p")
		require.NoError(t, err)
		require.Equal(t, "abc", vals.Plain["session"])

		// Expire it without waiting.
		require.NoError(t, db.Ent.Key.UpdateOneID(k.ID).SetExpiresAt(time.Now().Add(-time.Second)).Exec(ctx))
		n, err := db.Ent.Key.Query().Count(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "an expired key is not read")
		vals, err = ks.Lookup(ctx, "p")
		require.NoError(t, err)
		require.NotContains(t, vals.Plain, "session")
		err = ks.Delete(ctx, "session", "p")
		require.Equal(t, apperr.NotFound, apperr.CodeOf(err), "%v", err)

		k, err = ks.Set(ctx, keystore.SetRequest{Name: "session", Pack: "p", Value: "def"})
		require.NoError(t, err)
		require.Nil(t, k.ExpiresAt)
		vals, err = ks.Lookup(ctx, "p")
		require.NoError(t, err)
		require.Equal(t, "def", vals.Plain["session"])

		_, err = ks.Set(ctx, keystore.SetRequest{Name: "session", Pack: "p", Value: "x", TTL: -time.Second})
		require.Equal(t, apperr.BadUserInput, apperr.CodeOf(err))
	})
}
