package pack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/attune-io/attune/ent"
	entpack "github.com/attune-io/attune/ent/pack"
	"github.com/attune-io/attune/ent/packinstall"
)

// installLock names the lock an install holds while it runs: on
// PostgreSQL a session advisory lock, which the database drops the moment
// the installing process dies, so a restart knows at once which installs
// are dead, while another node's live install keeps its lock; on SQLite an
// in-process lock (one process by construction), so at start every
// install left RUNNING is dead.
func installLock(id int) string { return "install:" + strconv.Itoa(id) }

// installDir is install id's private temp dir.
func (s *Service) installDir(id int) string {
	return filepath.Join(tmpRoot(s.cfg), "install-"+strconv.Itoa(id))
}

// ReapInstalls ends the installs whose process died (a kill, a crash, a
// lost machine): each install left RUNNING whose lock nobody holds is
// recorded FAILED with the reason, and what it left is removed at once: its
// temp dir, the pack directory it moved into place (or, for an upgrade,
// the previous version is put back) and the environment it was building.
// A live install on another node holds its lock and is left alone. It
// returns how many installs it ended.
func (s *Service) ReapInstalls(ctx context.Context) (int, error) {
	recs, err := s.db.Ent.PackInstall.Query().
		Where(packinstall.StatusIn(packinstall.StatusRUNNING, packinstall.StatusPENDING)).All(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing running installs: %w", err)
	}
	n := 0
	for _, rec := range recs {
		release, ok, err := s.locks.TryLock(ctx, installLock(rec.ID))
		if err != nil {
			return n, err
		}
		if !ok {
			continue // alive
		}
		done, err := s.reapInstall(ctx, rec)
		release()
		if err != nil {
			return n, err
		}
		if done {
			n++
		}
	}
	return n, nil
}

// reapInstall cleans up after dead install rec and records it FAILED. It
// reports false, touching nothing, while a live install or delete of the
// same pack holds the pack's lock; a later pass ends it.
func (s *Service) reapInstall(ctx context.Context, rec *ent.PackInstall) (bool, error) {
	if rec.PackRef != "" {
		release, ok, err := s.locks.TryLock(ctx, "pack:"+rec.PackRef)
		if err != nil || !ok {
			return false, err
		}
		defer release()
		if err := s.undoDead(ctx, rec); err != nil {
			return false, err
		}
	}
	s.removeAll(s.installDir(rec.ID))
	step := rec.Step
	if step == "" {
		step = StepFetch
	}
	msg := fmt.Sprintf("the server stopped during the %s step, before the install finished; its files were removed", step)
	steps := rec.Steps
	if len(steps) > 0 && steps[len(steps)-1]["status"] == "running" {
		steps[len(steps)-1]["status"] = "failed"
		steps[len(steps)-1]["error"] = msg
	}
	n, err := s.db.Ent.PackInstall.Update().
		Where(packinstall.ID(rec.ID), packinstall.StatusIn(packinstall.StatusRUNNING, packinstall.StatusPENDING)).
		SetStatus(packinstall.StatusFAILED).SetError(msg).SetFinishedAt(time.Now()).SetSteps(steps).
		Save(ctx)
	if err != nil {
		return false, fmt.Errorf("failing dead install %d: %w", rec.ID, err)
	}
	if n > 0 {
		s.log.Warn("pack install died with its server; failed and cleaned up",
			"install", rec.ID, "pack", rec.PackRef, "step", step)
		if r, err := s.db.Ent.PackInstall.Get(ctx, rec.ID); err == nil {
			s.progress.publish(r)
		}
	}
	return n > 0, nil
}

// undoDead puts the pack directory and environment of rec's pack back as
// its row says, under the pack's lock: the version a reinstall had moved
// aside comes back from the temp dir if its place is empty, and the
// environment the install was building goes. A version directory no row
// points at goes with the next version sweep.
func (s *Service) undoDead(ctx context.Context, rec *ent.PackInstall) error {
	p, err := s.db.Ent.Pack.Query().Where(entpack.Ref(rec.PackRef)).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return fmt.Errorf("reading pack %s: %w", rec.PackRef, err)
	}
	aside := filepath.Join(s.installDir(rec.ID), "previous")
	if p != nil && exists(aside) && !exists(p.Path) && s.within(p.Path, s.cfg.PacksDir) {
		s.restore(aside, p.Path)
	}
	if rec.EnvPath != "" && (p == nil || p.EnvPath != rec.EnvPath) && s.within(rec.EnvPath, s.cfg.EnvsDir) {
		s.removeAll(rec.EnvPath)
	}
	return nil
}

// within reports whether path lies strictly inside dir, so a row never
// steers a removal elsewhere.
func (s *Service) within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && filepath.IsLocal(rel) && !strings.HasPrefix(rel, "..")
}

// removeInstallDirs removes the temp dirs of installs that are not
// running (an older sweep's leftovers), whatever their age.
func (s *Service) removeInstallDirs(ctx context.Context) error {
	entries, err := os.ReadDir(tmpRoot(s.cfg))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		id, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "install-"))
		if err != nil || !strings.HasPrefix(e.Name(), "install-") {
			continue
		}
		running, err := s.db.Ent.PackInstall.Query().
			Where(packinstall.ID(id), packinstall.StatusIn(packinstall.StatusRUNNING, packinstall.StatusPENDING)).Exist(ctx)
		if err != nil {
			return err
		}
		if !running {
			s.removeAll(filepath.Join(tmpRoot(s.cfg), e.Name()))
		}
	}
	return nil
}
