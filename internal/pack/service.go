// Package pack installs, upgrades and deletes packs. Its order of work is
// the point: files are fetched into a private temp dir, validated, moved to
// their permanent place, and only then is the runtime environment built,
// at its final location, never moved. Rows are written in one transaction;
// any failure leaves no rows, no directory, no environment and no temp dir.
package pack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/attune-io/attune/ent"
	entpack "github.com/attune-io/attune/ent/pack"
	"github.com/attune-io/attune/internal/fetch"
	"github.com/attune-io/attune/internal/metrics"
	"github.com/attune-io/attune/internal/packconfig"
	"github.com/attune-io/attune/internal/sandbox"
	"github.com/attune-io/attune/internal/store"
)

// Config says where packs and their environments live and how to build them.
type Config struct {
	// PacksDir holds <ref>/ for each installed pack, and .tmp/ for installs
	// in progress (same filesystem, so the move is an atomic rename).
	PacksDir string
	// EnvsDir holds the Python virtualenvs, one per pack and requirements
	// checksum, so an upgrade can build a new one beside the old.
	EnvsDir string
	// Limits bound fetching and extraction.
	Limits fetch.Limits
	// MaxManifestBytes caps each YAML file of a pack; 0 means
	// manifest.DefaultMaxFileBytes.
	MaxManifestBytes int64
	// Python and Npm are the base interpreter and npm used to build envs.
	Python, Npm string
	// EnvTimeout bounds one environment build (default 10 minutes).
	EnvTimeout time.Duration
	// ConfigsDir holds operators' <pack>.yaml configs, read at install;
	// empty means configs/ beside PacksDir.
	ConfigsDir string
	// Sealer seals pack configs' secret fields (the key/value store); nil
	// means configs cannot hold secrets.
	Sealer packconfig.Sealer
	// Sandbox, when enabled, confines environment builds like actions;
	// TempDir holds their private temp dirs (default <PacksDir>/.tmp).
	Sandbox *sandbox.Sandbox
	TempDir string
	Logger  *slog.Logger
}

// Canceler cancels a pack's active executions before a forced delete. The
// execution engine implements it.
type Canceler interface {
	CancelActive(ctx context.Context, packRef string) (int, error)
}

// Service is the pack lifecycle.
type Service struct {
	db       *store.DB
	cfg      Config
	log      *slog.Logger
	progress *broker
	locks    *store.Locker
	configs  *packconfig.Store
	sealer   packconfig.Sealer
	// Canceler, when set, lets deletePack(force: true) cancel executions.
	Canceler Canceler
	// Metrics, when set, counts installs and times their steps.
	Metrics *metrics.Metrics
	// loc is what this node has of pack versions (Prepare).
	loc local
}

// NewService prepares the directories.
func NewService(db *store.DB, cfg Config) (*Service, error) {
	if cfg.PacksDir == "" || cfg.EnvsDir == "" {
		return nil, errors.New("pack: PacksDir and EnvsDir are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.EnvTimeout == 0 {
		cfg.EnvTimeout = 10 * time.Minute
	}
	if cfg.TempDir == "" {
		cfg.TempDir = tmpRoot(cfg)
	}
	// Packs and environments are readable by the user actions run as; the
	// installs in progress are not.
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{cfg.PacksDir, 0o755}, {cfg.EnvsDir, 0o755}, {tmpRoot(cfg), 0o750}} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d.path, err)
		}
	}
	abs, err := filepath.Abs(cfg.PacksDir)
	if err != nil {
		return nil, err
	}
	cfg.PacksDir = abs
	if cfg.EnvsDir, err = filepath.Abs(cfg.EnvsDir); err != nil {
		return nil, err
	}
	return &Service{
		db: db, cfg: cfg, log: cfg.Logger, progress: newBroker(),
		locks: store.NewLocker(db), configs: packconfig.New(db, cfg.Sealer), sealer: cfg.Sealer,
		loc: local{ready: map[string]Local{}, flights: map[string]*flight{}, refs: map[string]*sync.Mutex{}},
	}, nil
}

func tmpRoot(cfg Config) string { return filepath.Join(cfg.PacksDir, ".tmp") }

// sweepAge protects installs under way on other nodes sharing PacksDir.
const sweepAge = time.Hour

// Sweep removes what a crash may have left. Installs whose process died
// are failed and their files removed at once (ReapInstalls), as are the
// temp dirs of installs that are not running, and versions nothing points
// at (SweepVersions). Anything else no pack row points at (pack or
// environment directories of an older naming, temp dirs) goes once it is
// older than an hour. It runs at start.
func (s *Service) Sweep(ctx context.Context) error {
	if _, err := s.ReapInstalls(ctx); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	if err := s.removeInstallDirs(ctx); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	if err := s.storeMissing(ctx); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	if err := s.SweepVersions(ctx); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	packs, err := s.db.Ent.Pack.Query().All(ctx)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	keep := map[string]bool{}
	for _, p := range packs {
		keep[p.Path] = true
		keep[p.EnvPath] = true
		// Its versions' directory; SweepVersions tends what is inside.
		keep[filepath.Join(s.cfg.PacksDir, p.Ref)] = true
	}
	for _, dir := range []string{tmpRoot(s.cfg), s.cfg.PacksDir, s.cfg.EnvsDir} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			info, err := e.Info()
			if e.Name() == ".tmp" || keep[p] || err != nil || time.Since(info.ModTime()) < sweepAge {
				continue
			}
			if dir == s.cfg.EnvsDir && envRE.MatchString(e.Name()) {
				continue // SweepVersions decides
			}
			s.log.Warn("removing orphaned pack directory", "path", p)
			s.removeAll(p)
		}
	}
	return nil
}

// Environment is a pack's runtime environment as its install built it
// (path is on the installing node). Every node builds its own copy when it
// first runs the version (Prepare), so a copy missing here is no failure;
// only a pack that cannot travel (no checksum: made by hand) whose READY
// environment has gone reports FAILED, so the API does not claim what the
// worker will refuse.
func (s *Service) Environment(p *ent.Pack) (status entpack.EnvStatus, path, errMsg string) {
	status, path, errMsg = p.EnvStatus, p.EnvPath, p.EnvError
	if status == entpack.EnvStatusREADY && path != "" && p.Checksum == "" {
		if _, err := os.Stat(path); err != nil {
			return entpack.EnvStatusFAILED, path, "environment missing at " + path + "; reinstall the pack with force: true"
		}
	}
	return status, path, errMsg
}
