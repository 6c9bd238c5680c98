package main

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/fetch"
	"github.com/attune-io/attune/internal/keystore"
	"github.com/attune-io/attune/internal/pack"
	"github.com/attune-io/attune/internal/sandbox"
	"github.com/attune-io/attune/internal/store"
)

// newPackService builds the pack lifecycle service, removes a crash's
// leftovers and makes sure the built-in core pack is installed and current.
func newPackService(ctx context.Context, cfg Config, db *store.DB, log *slog.Logger, sb *sandbox.Sandbox, keys *keystore.Service) (*pack.Service, error) {
	svc, err := pack.NewService(db, pack.Config{
		PacksDir: cfg.PacksDir,
		EnvsDir:  cfg.Packs.EnvsDir,
		Limits: fetch.Limits{
			MaxBytes:        cfg.Packs.MaxBytes,
			MaxFiles:        cfg.Packs.MaxFiles,
			DownloadTimeout: cfg.Packs.DownloadTimeout,
			GitTimeout:      cfg.Packs.GitTimeout,
			AllowedDirs:     cfg.Packs.AllowedSourceDirs,
		},
		MaxManifestBytes: cfg.Packs.MaxManifestBytes,
		Python:           cfg.Packs.Python,
		Npm:              cfg.Packs.Npm,
		EnvTimeout:       cfg.Packs.EnvTimeout,
		Sealer:           keys,
		Sandbox:          sb,
		TempDir:          filepath.Join(cfg.DataDir, "tmp", "builds"),
		Logger:           log,
	})
	if err != nil {
		return nil, err
	}
	if err := svc.Sweep(ctx); err != nil {
		log.Warn("sweeping pack directories", "error", err)
	}
	core, err := svc.EnsureCore(ctx)
	switch {
	case apperr.CodeOf(err) == apperr.Conflict:
		log.Info("core pack is being installed by another node")
	case err != nil:
		return nil, err
	default:
		log.Info("core pack ready", "version", core.Version)
	}
	return svc, nil
}
