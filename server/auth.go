package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"

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
	keys, err := keystore.New(db, encKey)
	if err != nil {
		return nil, err
	}
	if err := keys.CheckStartup(ctx); err != nil {
		return nil, err
	}
	if encKey == nil {
		log.Warn("no encryption key configured: secret keys cannot be stored (set ATTUNE_ENCRYPTION_KEY)")
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
