package pack

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/packinstall"
	"github.com/attune-io/attune/internal/apperr"
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

// A step's tool output (pip's or npm's lines while the environment builds)
// is kept in its entry of the record's steps: "output" holds the last
// outputKeep lines (each at most outputLineMax bytes) and "outputLines"
// counts every line so far, so that a client that missed a few updates
// knows which of the kept lines are new.
const (
	outputKeep    = 10
	outputLineMax = 500
	// outputSaveEvery bounds how often output lines are written to the
	// row (for subscribers on other nodes); subscribers on this node get
	// every line at once.
	outputSaveEvery = time.Second
)

// tracker keeps one PackInstall row current and tells subscribers.
type tracker struct {
	s  *Service
	id int
	// mu guards steps, current, started, rec and saved: output lines
	// arrive from the tool's output goroutine.
	mu      sync.Mutex
	steps   []map[string]any
	current string
	started time.Time
	// rec is the row as last saved; saved is when.
	rec     *ent.PackInstall
	saved   time.Time
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
	return &tracker{s: s, id: rec.ID, display: source, release: release, rec: rec}, nil
}

// step marks the previous step done and name under way.
func (t *tracker) step(ctx context.Context, name string) {
	now := time.Now()
	t.mu.Lock()
	t.finishStep(now, "done", "")
	t.current, t.started = name, now
	t.steps = append(t.steps, map[string]any{"name": name, "status": "running", "startedAt": now.UTC().Format(time.RFC3339Nano)})
	t.mu.Unlock()
	u := t.s.db.Ent.PackInstall.UpdateOneID(t.id).SetStep(name)
	if t.ref != "" {
		u.SetPackRef(t.ref)
	}
	t.save(ctx, u)
}

// finishStep closes the current step; t.mu is held.
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
	t.mu.Lock()
	if failure != nil {
		t.finishStep(now, "failed", clientMessage(failure))
		if e, ok := apperr.As(failure); ok && e.Details["problems"] != nil && len(t.steps) > 0 {
			// An invalid pack's problems, each {file, line, field, message}
			// and task for one in a workflow's task, as the error's
			// extensions.problems has them.
			t.steps[len(t.steps)-1]["problems"] = e.Details["problems"]
		}
		u.SetStatus(packinstall.StatusFAILED).SetError(clientMessage(failure))
	} else {
		t.finishStep(now, "done", "")
		u.SetStatus(packinstall.StatusSUCCEEDED).SetStep("")
	}
	t.mu.Unlock()
	t.s.Metrics.PackInstalled(failure == nil)
	t.save(ctx, u)
	if t.release != nil {
		t.release()
	}
}

func (t *tracker) save(ctx context.Context, u *ent.PackInstallUpdateOne) {
	t.mu.Lock()
	steps := t.copySteps()
	t.mu.Unlock()
	rec, err := u.SetSteps(steps).Save(ctx)
	if err != nil {
		t.s.log.Warn("recording install progress", "install", t.id, "error", err)
		return
	}
	t.mu.Lock()
	t.rec, t.saved = rec, time.Now()
	t.mu.Unlock()
	t.s.progress.publish(rec)
}

// copySteps copies the steps for a record; t.mu is held.
func (t *tracker) copySteps() []map[string]any {
	steps := make([]map[string]any, len(t.steps))
	for i, st := range t.steps {
		c := make(map[string]any, len(st))
		for k, v := range st {
			c[k] = v
		}
		steps[i] = c
	}
	return steps
}

// output records a line the current step's tool printed (see outputKeep);
// blank lines are left out.
// Subscribers on this node are told at once; the row is written at most
// every outputSaveEvery, and in full by the next step or the end.
func (t *tracker) output(ctx context.Context, line string) {
	if strings.TrimSpace(line) == "" {
		return // npm's spacing says nothing
	}
	if len(line) > outputLineMax {
		line = strings.ToValidUTF8(line[:outputLineMax], "") + "…"
	}
	t.mu.Lock()
	if t.current == "" || t.rec == nil {
		t.mu.Unlock()
		return
	}
	st := t.steps[len(t.steps)-1]
	prev, _ := st["output"].([]string)
	if len(prev) >= outputKeep {
		prev = prev[len(prev)-outputKeep+1:]
	}
	// A fresh slice: saved records share the old one.
	st["output"] = append(append(make([]string, 0, len(prev)+1), prev...), line)
	n, _ := st["outputLines"].(int)
	st["outputLines"] = n + 1
	if time.Since(t.saved) >= outputSaveEvery {
		t.mu.Unlock()
		t.save(ctx, t.s.db.Ent.PackInstall.UpdateOneID(t.id))
		return
	}
	rec := *t.rec
	rec.Steps = t.copySteps()
	t.mu.Unlock()
	t.s.progress.publish(&rec)
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
