package execution_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	entexec "github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/execution"
	"github.com/attune-io/attune/internal/notify"
	"github.com/attune-io/attune/internal/queue"
	"github.com/attune-io/attune/internal/store"
)

// deadline bounds every wait in these tests.
const deadline = 60 * time.Second

// bundle is one engine on a fresh database: service, worker (unless
// insert-only), a pack directory and the captured logs.
type bundle struct {
	db     *store.DB
	svc    *execution.Service
	worker *execution.Worker
	pack   *ent.Pack
	logs   *syncBuffer
}

type setupOptions struct {
	insertOnly bool
	worker     execution.WorkerOptions
}

// setup starts an engine on backend with a pack "tp" whose files are given
// (name → body; every file is executable).
func setup(t *testing.T, backend string, files map[string]string, o setupOptions) *bundle {
	t.Helper()
	ctx := context.Background()
	url := dbtest.URL(t, backend)
	db, err := store.Open(ctx, url, "")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.Migrate(ctx))
	require.NoError(t, queue.Migrate(ctx, db))

	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	bus, err := notify.New(ctx, db, url, log)
	require.NoError(t, err)
	t.Cleanup(bus.Close)

	h := &queue.Handlers{}
	conc := 4
	if o.insertOnly {
		conc = 0
	}
	q, err := queue.New(ctx, db, queue.Config{DatabaseURL: url, Concurrency: conc, Logger: log}, h)
	require.NoError(t, err)
	t.Cleanup(q.Close)
	svc := execution.NewService(db, q, bus, execution.Options{Logger: log})
	b := &bundle{db: db, svc: svc, logs: logs}
	if o.worker.TempDir == "" {
		o.worker.TempDir = t.TempDir()
	}
	if o.worker.KillGrace == 0 {
		o.worker.KillGrace = time.Second
	}
	b.worker = svc.NewWorker(o.worker)
	if !o.insertOnly {
		h.Execution = b.worker.Run
		require.NoError(t, b.worker.Start(ctx))
		require.NoError(t, q.Start(ctx))
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			require.NoError(t, q.Stop(sctx))
			b.worker.Stop(sctx)
		})
	}

	dir := t.TempDir()
	for name, body := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(body), 0o755))
	}
	b.pack = db.Ent.Pack.Create().SetRef("tp").SetPath(dir).SaveX(ctx)
	return b
}

// action registers action tp.<name>.
func (b *bundle) action(t *testing.T, name string, runner action.RunnerType, entry string, params map[string]any, mods ...func(*ent.ActionCreate)) *ent.Action {
	t.Helper()
	c := b.db.Ent.Action.Create().SetRef("tp." + name).SetPackRef("tp").SetPack(b.pack).
		SetRunnerType(runner).SetEntryPoint(entry).SetParameters(params)
	for _, m := range mods {
		m(c)
	}
	return c.SaveX(context.Background())
}

// run requests an action and waits until the execution finishes.
func (b *bundle) run(t *testing.T, ref string, params map[string]any) *ent.Execution {
	t.Helper()
	e, err := b.svc.Request(t.Context(), execution.Request{Action: ref, Parameters: params})
	require.NoError(t, err)
	return b.wait(t, e.ID, execution.Finished)
}

// wait follows execution id until until(status) holds and returns that row.
func (b *bundle) wait(t *testing.T, id int, until func(entexec.Status) bool) *ent.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	ch, err := b.svc.Updates(ctx, execution.UpdateFilter{ID: &id})
	require.NoError(t, err)
	var last *ent.Execution
	for e := range ch {
		last = e
		if until(e.Status) {
			return e
		}
	}
	t.Fatalf("execution %d did not reach the wanted status within %s; last: %+v", id, deadline, last)
	return nil
}

func is(statuses ...entexec.Status) func(entexec.Status) bool {
	return func(s entexec.Status) bool {
		for _, w := range statuses {
			if s == w {
				return true
			}
		}
		return false
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
