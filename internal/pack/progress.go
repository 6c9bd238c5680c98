package pack

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/packinstall"
	"github.com/attune-io/attune/internal/store"
)

// Install steps, in order. A UI can draw a progress bar from them.
const (
	StepFetch       = "fetch"
	StepExtract     = "extract"
	StepValidate    = "validate"
	StepMove        = "move"
	StepEnvironment = "environment"
	StepRegister    = "register"
	StepCleanup     = "cleanup"
)

// Steps lists the install steps in order.
var Steps = []string{StepFetch, StepExtract, StepValidate, StepMove, StepEnvironment, StepRegister, StepCleanup}

// tracker keeps one PackInstall row current and tells subscribers.
type tracker struct {
	s       *Service
	id      int
	steps   []map[string]any
	current string
	started time.Time
	display string
	// ref is the pack's, once validated; saved with the next step.
	ref string
	// warnings are the pack's (manifest.Pack.Warnings) and the rules'
	// naming actions or triggers not installed yet; saved at the end.
	warnings []string
	// release gives up the install's liveness lock (see installLock).
	release func()
}

// startInstall records a RUNNING install and takes its liveness lock
// before the row commits, so no node ever sees the row without the lock
// held (see ReapInstalls).
func (s *Service) startInstall(ctx context.Context, source string, force bool) (*tracker, error) {
	var (
		rec     *ent.PackInstall
		release func()
	)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		rec, err = tx.Ent.PackInstall.Create().SetSource(source).SetForce(force).
			SetStatus(packinstall.StatusRUNNING).SetSteps([]map[string]any{}).Save(ctx)
		if err != nil {
			return err
		}
		var ok bool
		release, ok, err = s.locks.TryLock(ctx, installLock(rec.ID))
		if err == nil && !ok {
			err = fmt.Errorf("install %d: its lock is taken", rec.ID)
		}
		return err
	})
	if err != nil {
		if release != nil {
			release()
		}
		return nil, err
	}
	s.progress.publish(rec)
	return &tracker{s: s, id: rec.ID, display: source, release: release}, nil
}

// step marks the previous step done and name under way.
func (t *tracker) step(ctx context.Context, name string) {
	now := time.Now()
	t.finishStep(now, "done", "")
	t.current, t.started = name, now
	t.steps = append(t.steps, map[string]any{"name": name, "status": "running", "startedAt": now.UTC().Format(time.RFC3339Nano)})
	u := t.s.db.Ent.PackInstall.UpdateOneID(t.id).SetStep(name)
	if t.ref != "" {
		u.SetPackRef(t.ref)
	}
	t.save(ctx, u)
}

func (t *tracker) finishStep(now time.Time, status, errMsg string) {
	if t.current == "" {
		return
	}
	last := t.steps[len(t.steps)-1]
	last["status"] = status
	last["durationMs"] = now.Sub(t.started).Milliseconds()
	t.s.Metrics.PackInstallStep(t.current, status, now.Sub(t.started))
	if errMsg != "" {
		last["error"] = errMsg
	}
}

// finish records the outcome; ctx may already be canceled, so it detaches.
func (t *tracker) finish(ctx context.Context, ref, version string, failure error) {
	ctx = context.WithoutCancel(ctx)
	now := time.Now()
	u := t.s.db.Ent.PackInstall.UpdateOneID(t.id).SetFinishedAt(now)
	if ref != "" {
		u.SetPackRef(ref).SetVersion(version)
	}
	if len(t.warnings) > 0 {
		u.SetWarnings(t.warnings)
	}
	if failure != nil {
		t.finishStep(now, "failed", clientMessage(failure))
		u.SetStatus(packinstall.StatusFAILED).SetError(clientMessage(failure))
	} else {
		t.finishStep(now, "done", "")
		u.SetStatus(packinstall.StatusSUCCEEDED).SetStep("")
	}
	t.s.Metrics.PackInstalled(failure == nil)
	t.save(ctx, u)
	if t.release != nil {
		t.release()
	}
}

func (t *tracker) save(ctx context.Context, u *ent.PackInstallUpdateOne) {
	steps := make([]map[string]any, len(t.steps))
	for i, st := range t.steps {
		c := make(map[string]any, len(st))
		for k, v := range st {
			c[k] = v
		}
		steps[i] = c
	}
	rec, err := u.SetSteps(steps).Save(ctx)
	if err != nil {
		t.s.log.Warn("recording install progress", "install", t.id, "error", err)
		return
	}
	t.s.progress.publish(rec)
}

// Progress streams the install's record each time it changes, starting with
// its current state, until it finishes or ctx ends. Installs run on the node
// that accepted them; a subscriber on another node sees changes through a
// periodic re-read of the row.
func (s *Service) Progress(ctx context.Context, id int) (<-chan *ent.PackInstall, error) {
	rec, err := s.db.Ent.PackInstall.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	in, cancel := s.progress.subscribe(id)
	out := make(chan *ent.PackInstall, 1)
	go func() {
		defer close(out)
		defer cancel()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last := rec
		send := func(r *ent.PackInstall) bool {
			select {
			case out <- r:
			case <-ctx.Done():
				return false
			}
			last = r
			return r.Status == packinstall.StatusRUNNING || r.Status == packinstall.StatusPENDING
		}
		if !send(rec) {
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case r := <-in:
				if !send(r) {
					return
				}
			case <-tick.C:
				r, err := s.db.Ent.PackInstall.Get(ctx, id)
				if err == nil && !r.UpdatedAt.Equal(last.UpdatedAt) && !send(r) {
					return
				}
			}
		}
	}()
	return out, nil
}

// broker fans install records out to in-process subscribers.
type broker struct {
	mu   sync.Mutex
	subs map[int]map[chan *ent.PackInstall]struct{}
}

func newBroker() *broker { return &broker{subs: map[int]map[chan *ent.PackInstall]struct{}{}} }

func (b *broker) subscribe(id int) (<-chan *ent.PackInstall, func()) {
	ch := make(chan *ent.PackInstall, 32)
	b.mu.Lock()
	if b.subs[id] == nil {
		b.subs[id] = map[chan *ent.PackInstall]struct{}{}
	}
	b.subs[id][ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs[id], ch)
		if len(b.subs[id]) == 0 {
			delete(b.subs, id)
		}
		b.mu.Unlock()
	}
}

// publish never blocks: a slow subscriber misses intermediate states but
// the final one is re-read by its ticker.
func (b *broker) publish(rec *ent.PackInstall) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[rec.ID] {
		select {
		case ch <- rec:
		default:
		}
	}
}
