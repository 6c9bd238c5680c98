package pack

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/actionpolicy"
	"github.com/attune-io/attune/ent/execution"
	entpack "github.com/attune-io/attune/ent/pack"
	"github.com/attune-io/attune/ent/packfile"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/policy"
	"github.com/attune-io/attune/internal/store"
)

// activeStatuses are the execution states that block a pack delete.
var activeStatuses = []execution.Status{
	execution.StatusREQUESTED, execution.StatusSCHEDULED, execution.StatusRUNNING, execution.StatusCANCELING,
	execution.StatusDELAYED, execution.StatusPAUSING, execution.StatusPAUSED, execution.StatusPENDING,
}

// DeleteResult says what a delete did.
type DeleteResult struct {
	Ref                string
	CanceledExecutions int
}

// Delete removes the pack and everything it owns (CASCADE), leaves history
// with its refs (SET NULL), then removes its directory and environment.
// The database decides: if its delete fails, no file is touched; a file
// removal that fails after the commit is logged and retried in the
// background, and Sweep at start removes what is left.
//
// Returns NOT_FOUND for an unknown pack, FORBIDDEN for a built-in pack, and
// CONFLICT when executions of the pack are still active and force is false
// (force cancels them first), or another install or delete of it is under way.
func (s *Service) Delete(ctx context.Context, ref string, force bool) (*DeleteResult, error) {
	p, err := s.db.Ent.Pack.Query().Where(entpack.Ref(ref)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "pack %q not found", ref)
	}
	if err != nil {
		return nil, err
	}
	if p.System {
		return nil, apperr.Errorf(apperr.Forbidden, "pack %q is built in and cannot be deleted", ref)
	}
	release, ok, err := s.lockPack(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apperr.Errorf(apperr.Conflict, "pack %q is being installed or deleted by another request", ref)
	}
	defer release()

	res := &DeleteResult{Ref: ref}
	active, err := s.db.Ent.Execution.Query().
		Where(execution.PackRef(ref), execution.StatusIn(activeStatuses...)).Count(ctx)
	if err != nil {
		return nil, err
	}
	if active > 0 {
		if !force {
			return nil, apperr.Errorf(apperr.Conflict,
				"pack %q has %d active execution(s); cancel them or delete with force: true", ref, active).
				WithDetails("activeExecutions", active)
		}
		if s.Canceler == nil {
			return nil, apperr.Errorf(apperr.Conflict,
				"pack %q has %d active execution(s) and this node cannot cancel them", ref, active)
		}
		if res.CanceledExecutions, err = s.Canceler.CancelActive(ctx, ref); err != nil {
			return nil, err
		}
	}
	if err := s.db.InTx(ctx, func(tx *store.Tx) error {
		// Actions of other packs its policies named lose their flag.
		named, err := tx.Ent.ActionPolicy.Query().Where(actionpolicy.PackID(p.ID)).
			Select(actionpolicy.FieldActionRef).Strings(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Ent.PackFile.Delete().Where(packfile.PackRef(ref)).Exec(ctx); err != nil {
			return err
		}
		if err := tx.Ent.Pack.DeleteOneID(p.ID).Exec(ctx); err != nil {
			return err
		}
		return policy.Sync(ctx, tx.Ent, named...)
	}); err != nil {
		return nil, err
	}
	// This node's copies go now; other nodes' with their next sweep.
	lk := s.loc.refLock(ref)
	lk.Lock()
	defer lk.Unlock()
	s.forget(ref)
	dirs := []string{p.Path, p.EnvPath, filepath.Join(s.cfg.PacksDir, ref)}
	if envs, err := os.ReadDir(s.cfg.EnvsDir); err == nil {
		for _, e := range envs {
			if m := envRE.FindStringSubmatch(e.Name()); m != nil && m[1] == ref {
				dirs = append(dirs, filepath.Join(s.cfg.EnvsDir, e.Name()))
			}
		}
	}
	for _, dir := range dirs {
		if dir != "" {
			s.removeLater(dir)
		}
	}
	return res, nil
}

// removeLater removes dir now, or keeps retrying in the background with
// backoff when the filesystem refuses.
func (s *Service) removeLater(dir string) {
	if err := os.RemoveAll(dir); err == nil {
		return
	} else {
		s.log.Error("removing pack files after delete; will retry", "path", dir, "error", err)
	}
	go func() {
		delay := time.Second
		for attempt := 1; attempt <= 10; attempt++ {
			time.Sleep(delay)
			err := os.RemoveAll(dir)
			if err == nil {
				s.log.Info("removed pack files after retry", "path", dir, "attempt", attempt)
				return
			}
			s.log.Error("removing pack files after delete", "path", dir, "attempt", attempt, "error", err)
			delay = min(delay*2, time.Minute)
		}
	}()
}

// lockWait is how long an install or delete waits for its pack's lock:
// longer than a sweep or a reap holds it (they remove a few directories),
// shorter than another install or delete does.
const lockWait = 3 * time.Second

// lockPack takes pack ref's lock for an install or delete, waiting up to
// lockWait for the background work that holds it briefly; ok is false
// when another install or delete still holds it.
func (s *Service) lockPack(ctx context.Context, ref string) (release func(), ok bool, err error) {
	deadline := time.Now().Add(lockWait)
	for {
		release, ok, err = s.locks.TryLock(ctx, "pack:"+ref)
		if err != nil || ok || time.Now().After(deadline) {
			return release, ok, err
		}
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
