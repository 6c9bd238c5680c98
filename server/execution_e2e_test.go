package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
	"github.com/attune-io/attune/internal/store"
)

// execDeadline bounds every wait for an execution in these tests.
const execDeadline = 60 * time.Second

// addPack stores a pack "e2e" whose files are given (name → body, all
// executable) and one SHELL action per file, named after it without ".sh".
func addPack(t *testing.T, dbURL string, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(t.Context(), dbURL, "")
	require.NoError(t, err)
	defer db.Close()
	p, err := db.Ent.Pack.Create().SetRef("e2e").SetPath(dir).Save(t.Context())
	require.NoError(t, err)
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755))
		searchable(t, dir)
		_, err := db.Ent.Action.Create().SetRef("e2e." + strings.TrimSuffix(name, ".sh")).SetPackRef("e2e").
			SetPack(p).SetRunnerType(action.RunnerTypeSHELL).SetEntryPoint(name).Save(t.Context())
		require.NoError(t, err)
	}
}

// startDoomed starts a server the test will kill: unlike startServer, it
// does not require a graceful exit.
func startDoomed(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	p := start(t, env, append([]string{"-listen", "127.0.0.1:0", "-data-dir", t.TempDir()}, args...)...)
	select {
	case addr := <-p.out.addr:
		return &server{proc: p, url: "http://" + addr}
	case <-p.done:
		t.Fatalf("attune exited before listening: %v", p.err)
	case <-time.After(startTimeout):
		t.Fatalf("attune did not listen within %s", startTimeout)
	}
	return nil
}

// executed is the part of an execution these tests read.
type executed struct {
	ID       string          `json:"id"`
	Status   string          `json:"status"`
	Result   json.RawMessage `json:"result"`
	Worker   string          `json:"worker"`
	Attempt  int             `json:"attempt"`
	Error    string          `json:"error"`
	Duration *float64        `json:"duration"`
}

const executionFields = `id status result worker attempt error duration`

// execute requests an action through the API (with s.token, if any) and
// returns the execution id.
func execute(t *testing.T, s *server, ref string, params map[string]any) string {
	t.Helper()
	var out struct {
		ExecuteAction struct{ Execution executed } `json:"executeAction"`
	}
	client(s, s.token).Must(t, `mutation($a: String!, $p: JSON) {
		executeAction(input: {action: $a, parameters: $p}) { execution { `+executionFields+` } } }`,
		map[string]any{"a": ref, "p": params}, &out)
	// Accepted: queued, or already taken by a fast worker.
	require.Contains(t, []string{"SCHEDULED", "RUNNING", "SUCCEEDED", "FAILED"}, out.ExecuteAction.Execution.Status)
	return out.ExecuteAction.Execution.ID
}

// subscribe is one graphql-transport-ws subscription's data payloads (with
// s.token, if any, in connection_init);
// the channel closes when the server completes it.
func subscribe(t *testing.T, ctx context.Context, s *server, query string, vars map[string]any) <-chan json.RawMessage {
	t.Helper()
	c, _, err := dialGraphQL(ctx, s, "graphql-transport-ws", "")
	require.NoError(t, err)
	t.Cleanup(func() { c.CloseNow() })
	var init json.RawMessage // s.token, when the server has one, as the README says
	if s.token != "" {
		init, err = json.Marshal(map[string]string{"Authorization": "Bearer " + s.token})
		require.NoError(t, err)
	}
	require.NoError(t, wsjson.Write(ctx, c, wsMessage{Type: "connection_init", Payload: init}))
	require.Equal(t, "connection_ack", readFrame(ctx, t, c).Type)
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	require.NoError(t, wsjson.Write(ctx, c, wsMessage{ID: "1", Type: "subscribe", Payload: payload}))
	ch := make(chan json.RawMessage, 1024)
	go func() {
		defer close(ch)
		for {
			var m wsMessage
			if err := wsjson.Read(ctx, c, &m); err != nil {
				return
			}
			switch m.Type {
			case "next":
				var p struct {
					Data   json.RawMessage `json:"data"`
					Errors []any           `json:"errors"`
				}
				if json.Unmarshal(m.Payload, &p) != nil || len(p.Errors) > 0 {
					ch <- m.Payload // the test sees the error
					continue
				}
				ch <- p.Data
			case "complete", "error":
				if m.Type == "error" {
					ch <- m.Payload
				}
				_ = c.Close(websocket.StatusNormalClosure, "")
				return
			}
		}
	}()
	return ch
}

// follow subscribes to executionUpdated(id) and returns every state until
// the execution finishes.
func follow(t *testing.T, s *server, id string) []executed {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), execDeadline)
	defer cancel()
	var states []executed
	for data := range subscribe(t, ctx, s, `subscription($id: ID!) { executionUpdated(id: $id) { `+executionFields+` } }`,
		map[string]any{"id": id}) {
		var d struct{ ExecutionUpdated executed }
		require.NoError(t, json.Unmarshal(data, &d), string(data))
		states = append(states, d.ExecutionUpdated)
	}
	require.NoError(t, ctx.Err(), "execution %s did not finish; states: %+v", id, states)
	require.NotEmpty(t, states)
	return states
}

// lines subscribes to executionOutput(id) and returns "stream: line"s.
func lines(t *testing.T, s *server, id string, from int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), execDeadline)
	defer cancel()
	var out []string
	for data := range subscribe(t, ctx, s, `subscription($id: ID!, $from: Int) { executionOutput(id: $id, from: $from) { seq stream line } }`,
		map[string]any{"id": id, "from": from}) {
		var d struct {
			ExecutionOutput struct {
				Seq          int
				Stream, Line string
			}
		}
		require.NoError(t, json.Unmarshal(data, &d), string(data))
		out = append(out, d.ExecutionOutput.Stream+": "+d.ExecutionOutput.Line)
	}
	require.NoError(t, ctx.Err())
	return out
}

var hello = map[string]string{
	"hello.sh": "#!/bin/bash\nread -r p\necho \"hello from $ATTUNE_ACTION_REF\"\necho warn >&2\necho \"{\\\"params\\\": $p}\"\n",
}

// TestExecuteActionEndToEnd runs an action through one all-roles server:
// request, status and output subscriptions over the websocket, the stored
// result, and the per-field errors of an invalid request.
func TestExecuteActionEndToEnd(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		dbURL := dbtest.URL(t, backend)
		s := startServer(t, nil, "-database-url", dbURL)
		addPack(t, dbURL, hello)
		id := execute(t, s, "e2e.hello", map[string]any{"x": 1})
		states := follow(t, s, id)
		last := states[len(states)-1]
		require.Equal(t, "SUCCEEDED", last.Status, "%+v", states)
		require.JSONEq(t, `{"params": {"x": 1}}`, string(last.Result))
		require.Equal(t, 1, last.Attempt)
		require.NotEmpty(t, last.Worker)
		require.NotNil(t, last.Duration)
		all := lines(t, s, id, 0)
		// The streams are read concurrently: order holds within a stream.
		require.ElementsMatch(t, []string{"stdout: hello from e2e.hello", "stderr: warn", `stdout: {"params": {"x":1}}`}, all)
		require.Less(t, slices.Index(all, "stdout: hello from e2e.hello"), slices.Index(all, `stdout: {"params": {"x":1}}`))
		require.Equal(t, all[2:], lines(t, s, id, 2), "resumes from a line number")

		e := gqltest.New(s.url+"/graphql").Fail(t, `mutation { executeAction(input: {action: "e2e.nope"}) { execution { id } } }`, nil)
		require.Equal(t, "NOT_FOUND", e.Code())
		e = gqltest.New(s.url+"/graphql").Fail(t, `mutation { cancelExecution(id: `+id+`) { id } }`, nil)
		require.Equal(t, "CONFLICT", e.Code())
	})
}

// TestAcceptedExecutionSurvivesKill accepts an execution on an API-only
// server, kills it with SIGKILL right after the answer, and requires the
// next server (with a worker) to run it.
func TestAcceptedExecutionSurvivesKill(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		dbURL := dbtest.URL(t, backend)
		api := startDoomed(t, nil, "-database-url", dbURL, "-roles", "api")
		addPack(t, dbURL, hello)
		id := execute(t, api, "e2e.hello", nil)
		require.NoError(t, api.cmd.Process.Kill())
		<-api.done

		s := startServer(t, nil, "-database-url", dbURL)
		states := follow(t, s, id)
		require.Equal(t, "SUCCEEDED", states[len(states)-1].Status, "%+v", states)
	})
}

// TestWorkerInAnotherProcess runs the action on a worker process while the
// client talks to an API-only process: status and output arrive through
// PostgreSQL LISTEN/NOTIFY, and a cancel crosses processes too.
func TestWorkerInAnotherProcess(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.URL(t, "postgres")
	api := startServer(t, nil, "-database-url", dbURL, "-roles", "api")
	gate, readGate := newGate(t)
	startServer(t, []string{readGate}, "-database-url", dbURL, "-roles", "api,worker")
	addPack(t, dbURL, map[string]string{
		"hello.sh": hello["hello.sh"],
		"block.sh": "#!/bin/bash\necho waiting\nread -r _ < " + gate + "\necho released\n",
	})
	id := execute(t, api, "e2e.hello", map[string]any{"x": 2})
	states := follow(t, api, id)
	require.Equal(t, "SUCCEEDED", states[len(states)-1].Status, "%+v", states)
	require.Contains(t, lines(t, api, id, 0), "stderr: warn")

	// Live output: the first line arrives while the action still waits.
	id = execute(t, api, "e2e.block", nil)
	ctx, cancel := context.WithTimeout(t.Context(), execDeadline)
	defer cancel()
	out := subscribe(t, ctx, api, `subscription($id: ID!) { executionOutput(id: $id) { line } }`, map[string]any{"id": id})
	require.JSONEq(t, `{"executionOutput": {"line": "waiting"}}`, string(<-out))
	var c struct{ CancelExecution executed }
	gqltest.New(api.url+"/graphql").Must(t, `mutation($id: ID!) { cancelExecution(id: $id) { status } }`, map[string]any{"id": id}, &c)
	require.Contains(t, []string{"CANCELING", "CANCELED"}, c.CancelExecution.Status)
	states = follow(t, api, id)
	require.Equal(t, "CANCELED", states[len(states)-1].Status, "%+v", states)
	for range out { // the output stream ends with the execution
	}
}

// TestTwoWorkersNeverRunTwice shares one PostgreSQL between an API process
// and two worker processes: both take jobs, and every execution runs once.
func TestTwoWorkersNeverRunTwice(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.URL(t, "postgres")
	api := startServer(t, nil, "-database-url", dbURL, "-roles", "api")
	// The actions count their runs in a file of the test's.
	env := []string{"ATTUNE_WORKER_CONCURRENCY=2", "ATTUNE_WORKER_ISOLATION=off"}
	startServer(t, env, "-database-url", dbURL, "-roles", "api,worker")
	startServer(t, env, "-database-url", dbURL, "-roles", "api,worker")
	log := filepath.Join(t.TempDir(), "runs")
	addPack(t, dbURL, map[string]string{
		"count.sh": "#!/bin/bash\necho \"$ATTUNE_EXECUTION_ID\" >> " + log + "\nsleep 0.3\n",
	})
	const n = 16
	ids := make([]string, n)
	for i := range ids {
		ids[i] = execute(t, api, "e2e.count", nil)
	}
	workers := map[string]int{}
	for _, id := range ids {
		states := follow(t, api, id)
		last := states[len(states)-1]
		require.Equal(t, "SUCCEEDED", last.Status, "%+v", states)
		require.Equal(t, 1, last.Attempt)
		workers[last.Worker]++
	}
	require.Len(t, workers, 2, "both workers took jobs: %v", workers)
	runs, err := os.ReadFile(log)
	require.NoError(t, err)
	require.ElementsMatch(t, ids, strings.Fields(string(runs)), "every execution ran exactly once")
}

// TestKilledWorkerAbandons kills a worker process with SIGKILL mid-run: its
// execution ends ABANDONED within the configured bound, and a worker that
// starts afterwards does not run it again.
func TestKilledWorkerAbandons(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.URL(t, "postgres")
	// The action writes its host pid and counts its runs in files of the test's.
	env := []string{"ATTUNE_WORKER_ABANDON_AFTER=3s", "ATTUNE_WORKER_ISOLATION=off"}
	api := startServer(t, env, "-database-url", dbURL, "-roles", "api")
	worker := startDoomed(t, env, "-database-url", dbURL, "-roles", "api,worker")
	dir := t.TempDir()
	runs, pidFile := filepath.Join(dir, "runs"), filepath.Join(dir, "pid")
	addPack(t, dbURL, map[string]string{
		"long.sh":  "#!/bin/bash\necho \"$ATTUNE_EXECUTION_ID\" >> " + runs + "\necho $$ > " + pidFile + "\necho started\nexec sleep 300\n",
		"hello.sh": hello["hello.sh"],
	})
	id := execute(t, api, "e2e.long", nil)
	ctx, cancel := context.WithTimeout(t.Context(), execDeadline)
	defer cancel()
	out := subscribe(t, ctx, api, `subscription($id: ID!) { executionOutput(id: $id) { line } }`, map[string]any{"id": id})
	require.JSONEq(t, `{"executionOutput": {"line": "started"}}`, string(<-out))
	pid, err := strconv.Atoi(strings.TrimSpace(string(must(os.ReadFile(pidFile)))))
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) }) // in case it outlived the worker

	killed := time.Now()
	require.NoError(t, worker.cmd.Process.Kill())
	<-worker.done
	states := follow(t, api, id)
	last := states[len(states)-1]
	require.Equal(t, "ABANDONED", last.Status, "%+v", states)
	require.Contains(t, last.Error, "it is not run again")
	require.Less(t, time.Since(killed), 3*time.Second+2*time.Second, "abandoned within the bound (plus slack)")
	eventually(t, 10*time.Second, "the dead worker's action process to die with it", func() bool {
		return syscall.Kill(pid, 0) != nil
	})

	later := startServer(t, env, "-database-url", dbURL, "-roles", "api,worker")
	states = follow(t, later, execute(t, later, "e2e.hello", nil))
	require.Equal(t, "SUCCEEDED", states[len(states)-1].Status, "the new worker works jobs")
	states = follow(t, later, id)
	require.Equal(t, "ABANDONED", states[len(states)-1].Status)
	require.Equal(t, id+"\n", string(must(os.ReadFile(runs))), "the abandoned execution ran once")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestInstalledPythonPackRuns is the seed's bug end to end: a pack installed
// through the API runs its Python action in the venv built at the pack's
// final place, importing the library from the pack's own wheelhouse.
func TestInstalledPythonPackRuns(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, nil, "-database-url", dbtest.URL(t, backend))
		src, err := filepath.Abs("../examples/packs/python_example")
		require.NoError(t, err)
		var got struct {
			InstallPack struct {
				Pack struct{ Environment struct{ Status, Path string } }
			}
		}
		gqltest.New(s.url+"/graphql").Must(t, `mutation($s:String!){ installPack(input:{source:$s}){
			pack{ environment{ status path } } } }`, map[string]any{"s": src}, &got)
		require.Equal(t, "READY", got.InstallPack.Pack.Environment.Status)
		id := execute(t, s, "python_example.greet", map[string]any{"name": "seed"})
		states := follow(t, s, id)
		last := states[len(states)-1]
		require.Equal(t, "SUCCEEDED", last.Status, last.Error)
		var result struct{ Greeting, Library string }
		require.NoError(t, json.Unmarshal(last.Result, &result))
		require.Equal(t, "Hello, seed!", result.Greeting)
		require.True(t, strings.HasPrefix(result.Library, got.InstallPack.Pack.Environment.Path),
			"imported from the pack's venv: %s", result.Library)
	})
}
