package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"entgo.io/ent/dialect"

	"github.com/attune-io/attune/ent/key"
	"github.com/attune-io/attune/internal/auth"
	"github.com/attune-io/attune/internal/execution"
	"github.com/attune-io/attune/internal/keystore"
	"github.com/attune-io/attune/internal/store"
)

// AuthConfig says whether requests need tokens.
type AuthConfig struct {
	// Enabled requires a token on every GraphQL request and subscription.
	// Turning it off is refused unless the server listens on loopback only.
	Enabled bool `yaml:"enabled"`
}

// validate refuses an open server reachable from elsewhere.
func (a AuthConfig) validate(listen string) error {
	if a.Enabled || isLoopback(listen) {
		return nil
	}
	return fmt.Errorf("auth.enabled=false is allowed only when listening on loopback, not %q", listen)
}

// isLoopback reports whether the listen address accepts local connections
// only (localhost or a loopback IP).
func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// security is the authentication and key/value store of one process.
type security struct {
	tokens *auth.Service // nil when authentication is off
	keys   *keystore.Service
}

// startSecurity checks the encryption key against the stored secrets,
// makes sure an admin can log in, and prints a first-start token once.
func startSecurity(ctx context.Context, cfg Config, db *store.DB, log *slog.Logger) (*security, error) {
	encKey, err := keystore.ParseKey(cfg.EncryptionKey)
	if err != nil {
		return nil, fmt.Errorf("encryption_key: %w", err)
	}
	if encKey == nil && db.Dialect == dialect.SQLite {
		if encKey, err = localKey(ctx, db, cfg.DataDir, log); err != nil {
			return nil, err
		}
	}
	keys, err := keystore.New(db, encKey)
	if err != nil {
		return nil, err
	}
	if err := keys.CheckStartup(ctx); err != nil {
		return nil, err
	}
	if encKey == nil {
		log.Warn("no encryption key configured: secret keys cannot be stored and queued secret " +
			"parameters are not encrypted (set ATTUNE_ENCRYPTION_KEY on every node)")
	}
	sec := &security{keys: keys}
	if !cfg.Auth.Enabled {
		log.Warn("AUTHENTICATION IS OFF: every request acts as admin; allowed only on loopback", "listen", cfg.Listen)
		return sec, nil
	}
	sec.tokens = auth.NewService(db)
	token, err := sec.tokens.Bootstrap(ctx, cfg.DataDir, cfg.AdminToken)
	if err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	if token != "" {
		log.Warn("created the first admin token; it is shown only now and saved to the data directory",
			"token", token, "file", cfg.DataDir+"/"+auth.AdminTokenFile)
	}
	return sec, nil
}

// sealerOf encrypts queued secret parameters with the store's key, if any
// (a nil interface, not a nil-keyed store, when there is none).
func sealerOf(keys *keystore.Service) execution.Sealer {
	if !keys.HasKey() {
		return nil
	}
	return keys
}

// EncryptionKeyFile holds the key an embedded (SQLite) server made itself.
const EncryptionKeyFile = "encryption-key"

// localKey gives a single-node SQLite server encryption out of the box: the
// key in <data_dir>/encryption-key, made (0600) at first start while no
// secret exists yet. PostgreSQL deployments have many nodes that must share
// one key, so they get none unless configured.
func localKey(ctx context.Context, db *store.DB, dataDir string, log *slog.Logger) ([]byte, error) {
	path := filepath.Join(dataDir, EncryptionKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		return keystore.ParseKey(string(b))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if n, err := db.Ent.Key.Query().Where(key.Secret(true)).Count(ctx); err != nil || n > 0 {
		return nil, err // secrets stored under some other key: CheckStartup says so
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(raw)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	log.Info("created an encryption key for secrets; back it up with the database", "file", path)
	return raw, nil
}
