package execution

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/ent/worker"
	"github.com/attune-io/attune/internal/store"
)

// DefaultAbandonAfter bounds how long an execution stays RUNNING after its
// worker died before it is marked ABANDONED.
const DefaultAbandonAfter = 60 * time.Second

// beat is how often workers refresh their heartbeat and every node looks
// for dead workers; a worker is dead once its heartbeat is older than
// staleAfter. Together they keep detection under AbandonAfter.
func (s *Service) beat() time.Duration { return s.opts.AbandonAfter / 6 }

func (s *Service) deadAt() time.Time { return s.now().Add(-s.opts.AbandonAfter * 2 / 3) }

// Start runs the maintenance every node shares until Stop: executions of
// dead workers become ABANDONED, and with Retention set, old ones are
// purged.
func (s *Service) Start(ctx context.Context) {
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop, s.done = stop, make(chan struct{})
	go func() {
		defer close(s.done)
		ticker := time.NewTicker(s.beat())
		defer ticker.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-ticker.C:
				s.maintain(lctx)
			}
		}
	}()
}

// Stop ends what Start began.
func (s *Service) Stop() {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
}

func (s *Service) maintain(ctx context.Context) {
	if n, err := s.Reap(ctx, s.deadAt()); err != nil {
		s.log.Warn("abandon detection", "error", err)
	} else if n > 0 {
		s.log.Warn("executions abandoned by dead workers", "count", n)
	}
	if s.opts.Retention > 0 {
		if _, err := s.Purge(ctx, s.now().Add(-s.opts.Retention)); err != nil {
			s.log.Warn("execution retention", "error", err)
		}
	}
}

// purgeBatch bounds the rows one retention pass deletes.
const purgeBatch = 500

// purgeLockKey lets one PostgreSQL node at a time apply retention.
const purgeLockKey = 7_346_201_995

// Reap marks ABANDONED every RUNNING or CANCELING execution whose worker's
// last heartbeat is before deadAt (or that has no heartbeat row at all),
// then forgets those workers. Any worker may call it; the compare-and-set
// makes concurrent calls harmless. It returns how many executions it
// abandoned.
func (s *Service) Reap(ctx context.Context, deadAt time.Time) (int, error) {
	live, err := s.db.Ent.Worker.Query().Where(worker.HeartbeatAtGTE(deadAt)).
		Select(worker.FieldName).Strings(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing live workers: %w", err)
	}
	orphans, err := s.db.Ent.Execution.Query().
		Where(execution.StatusIn(Running, Canceling), execution.WorkerNotIn(live...),
			// A workflow runs on no worker once started: its steps are jobs.
			execution.Not(execution.HasWorkflowExecutions())).
		Select(execution.FieldID, execution.FieldWorker, execution.FieldParentID, execution.FieldActionRef, execution.FieldPackRef).All(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing orphaned executions: %w", err)
	}
	n := 0
	for _, e := range orphans {
		err := s.db.InTx(ctx, func(tx *store.Tx) error {
			ok, err := transition(ctx, tx, s.bus, e.ID, Abandoned, func(u *ent.ExecutionUpdate) {
				u.Where(execution.Worker(e.Worker)).SetFinishedAt(s.now()).
					SetError(fmt.Sprintf("abandoned: worker %q stopped heartbeating before the action finished; it is not run again", e.Worker))
			})
			if ok {
				n++
				tx.AfterCommit(func() { s.finished(e, Abandoned) })
				if err == nil {
					err = s.childEndedTx(ctx, tx, e.ParentID)
				}
			}
			return err
		})
		if err != nil {
			return n, err
		}
	}
	if _, err := s.db.Ent.Worker.Delete().Where(worker.HeartbeatAtLT(deadAt)).Exec(ctx); err != nil {
		return n, fmt.Errorf("forgetting dead workers: %w", err)
	}
	return n, nil
}

// Purge deletes finished executions that finished before cutoff, with their
// output, in batches of purgeBatch, until none is left. On PostgreSQL only
// one node purges at a time; the others return 0 at once.
func (s *Service) Purge(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		n, err := s.purgeBatch(ctx, cutoff)
		total += n
		if err != nil || n < purgeBatch {
			return total, err
		}
	}
}

func (s *Service) purgeBatch(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if s.db.Dialect == dialect.Postgres {
			var got bool
			if err := tx.SQL.QueryRowContext(ctx, "SELECT pg_try_advisory_xact_lock($1)", purgeLockKey).Scan(&got); err != nil || !got {
				return err
			}
		}
		ids, err := tx.Ent.Execution.Query().
			Where(execution.StatusIn(FinalStatuses...), execution.FinishedAtLT(cutoff)).
			Limit(purgeBatch).IDs(ctx)
		if err != nil || len(ids) == 0 {
			return err
		}
		n, err = tx.Ent.Execution.Delete().Where(execution.IDIn(ids...)).Exec(ctx)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("purging executions: %w", err)
	}
	return n, nil
}
