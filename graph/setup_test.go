package graph_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/graph"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
	"github.com/attune-io/attune/internal/pack"
)

// bundle is what a graph test works with: a real HTTP server over the real
// handler on a fresh database, and an ent client for fixtures.
type bundle struct {
	c       *gqltest.Client
	dir     string
	closeDB func() error
	ent     *ent.Client
	queries *atomic.Int64
}

func setup(t testing.TB, backend string) *bundle {
	t.Helper()
	db := dbtest.Open(t, backend)
	counter := &countingDriver{Driver: entsql.OpenDB(db.Dialect, db.SQL), n: &atomic.Int64{}}
	client := ent.NewClient(ent.Driver(counter))
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	dir := t.TempDir()
	packs, err := pack.NewService(db, pack.Config{
		PacksDir: filepath.Join(dir, "packs"), EnvsDir: filepath.Join(dir, "envs"), Logger: log,
	})
	require.NoError(t, err)
	h := graph.NewHandler(&graph.Resolver{Client: client, Packs: packs}, graph.Options{
		Logger:        log,
		Introspection: true,
	})
	// Authentication off: these tests are about everything else; the
	// server's auth tests cover tokens and roles through the real binary.
	srv := httptest.NewServer(graph.Authenticate(nil, graph.BodyLimit(1<<20, 10<<20, h)))
	t.Cleanup(srv.Close)
	return &bundle{c: gqltest.New(srv.URL), dir: dir, closeDB: db.Close, ent: db.Ent, queries: counter.n}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// countingDriver counts the SQL queries ent sends, to prove there is no N+1.
type countingDriver struct {
	dialect.Driver
	n *atomic.Int64
}

func (d *countingDriver) Query(ctx context.Context, q string, args, v any) error {
	d.n.Add(1)
	return d.Driver.Query(ctx, q, args, v)
}

// fixtures creates one of everything, linked, in a pack named ref.
type fixtures struct {
	pack        *ent.Pack
	action      *ent.Action
	trigger     *ent.Trigger
	sensor      *ent.Sensor
	rule        *ent.Rule
	event       *ent.Event
	enforcement *ent.Enforcement
	parent      *ent.Execution
	execution   *ent.Execution
	workflow    *ent.WorkflowDefinition
	wfExecution *ent.WorkflowExecution
}

func (b *bundle) fixtures(t testing.TB, ref string) fixtures {
	t.Helper()
	ctx := t.Context()
	c := b.ent
	var f fixtures
	f.pack = c.Pack.Create().SetRef(ref).SetVersion("1.0.0").SaveX(ctx)
	f.action = c.Action.Create().SetRef(ref + ".act").SetPackRef(ref).SetPack(f.pack).
		SetEntryPoint("actions/act.sh").SaveX(ctx)
	f.trigger = c.Trigger.Create().SetRef(ref + ".trig").SetPackRef(ref).SetPack(f.pack).SaveX(ctx)
	f.sensor = c.Sensor.Create().SetRef(ref + ".sens").SetPackRef(ref).SetPack(f.pack).
		SetTriggerTypes([]string{f.trigger.Ref}).SaveX(ctx)
	f.rule = c.Rule.Create().SetRef(ref + ".rule").SetPackRef(ref).SetPack(f.pack).
		SetAction(f.action).SetActionRef(f.action.Ref).
		SetTrigger(f.trigger).SetTriggerRef(f.trigger.Ref).SaveX(ctx)
	f.event = c.Event.Create().SetTrigger(f.trigger).SetTriggerRef(f.trigger.Ref).
		SetSource(f.sensor).SetSourceRef(f.sensor.Ref).
		SetPayload(map[string]any{"n": 1}).SaveX(ctx)
	f.enforcement = c.Enforcement.Create().SetRule(f.rule).SetRuleRef(f.rule.Ref).
		SetEvent(f.event).SetEventRef(f.event.ID).SetStatus("PROCESSED").SaveX(ctx)
	f.parent = c.Execution.Create().SetAction(f.action).SetActionRef(f.action.Ref).
		SetPackRef(ref).SaveX(ctx)
	f.execution = c.Execution.Create().SetAction(f.action).SetActionRef(f.action.Ref).
		SetPackRef(ref).SetParent(f.parent).SetEnforcement(f.enforcement).SaveX(ctx)
	f.workflow = c.WorkflowDefinition.Create().SetRef(ref + ".wf").SetPackRef(ref).
		SetPack(f.pack).SaveX(ctx)
	f.wfExecution = c.WorkflowExecution.Create().SetWorkflowDefinition(f.workflow).
		SetExecution(f.parent).SaveX(ctx)
	return f
}

func id(v int) string { return fmt.Sprint(v) }

func requireCode(t *testing.T, e gqltest.Error, code string) {
	t.Helper()
	require.Equal(t, code, e.Code(), "error %q", e.Message)
}

type entExecutionCreate = ent.ExecutionCreate
