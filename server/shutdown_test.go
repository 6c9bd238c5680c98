package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
	"github.com/attune-io/attune/internal/store"
)

// shutdownAction is a SHELL action of the pack addActions stores.
type shutdownAction struct {
	name, body string
	idempotent bool
}

// addActions stores a pack "e2e" with one SHELL action per entry.
func addActions(t *testing.T, dbURL string, actions ...shutdownAction) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(t.Context(), dbURL, "")
	require.NoError(t, err)
	defer db.Close()
	p, err := db.Ent.Pack.Create().SetRef("e2e").SetPath(dir).Save(t.Context())
	require.NoError(t, err)
	for _, a := range actions {
		require.NoError(t, os.WriteFile(filepath.Join(dir, a.name+".sh"), []byte(a.body), 0o755))
		searchable(t, dir)
		_, err := db.Ent.Action.Create().SetRef("e2e." + a.name).SetPackRef("e2e").SetPack(p).
			SetRunnerType(action.RunnerTypeSHELL).SetEntryPoint(a.name + ".sh").SetIdempotent(a.idempotent).
			Save(t.Context())
		require.NoError(t, err)
	}
}

// waitStarted waits until the execution printed its first line, "started":
// its process runs.
func waitStarted(t *testing.T, s *server, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), execDeadline)
	defer cancel()
	out := subscribe(t, ctx, s, `subscription($id: ID!) { executionOutput(id: $id) { line } }`, map[string]any{"id": id})
	require.JSONEq(t, `{"executionOutput": {"line": "started"}}`, string(<-out), "execution %s", id)
}

// waitExit waits up to d for the process to exit and returns its status.
func (p *proc) waitExit(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("attune did not exit within %s", d)
		return -1
	}
}

// TestGracefulShutdownLetsRunningActionsFinish sends SIGTERM while four
// actions run: the two that end within shutdown_timeout finish SUCCEEDED,
// the long one ends CANCELED with the reason, and the long idempotent one
// goes back to the queue and runs again after the restart. The process
// exits 0 within shutdown_timeout plus the kill grace, and its log says
// what it did.
func TestGracefulShutdownLetsRunningActionsFinish(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		dbURL := dbtest.URL(t, backend)
		runs := filepath.Join(t.TempDir(), "runs")
		const timeout, grace = 6 * time.Second, time.Second
		env := []string{"ATTUNE_SHUTDOWN_TIMEOUT=" + timeout.String(), "ATTUNE_WORKER_KILL_GRACE=" + grace.String(),
			// The actions count their runs in a file of the test's.
			"ATTUNE_WORKER_ISOLATION=off"}
		s := startDoomed(t, env, "-database-url", dbURL)
		addActions(t, dbURL,
			shutdownAction{name: "short", body: "#!/bin/bash\necho started\nsleep 2\necho done\n"},
			shutdownAction{name: "long", body: "#!/bin/bash\necho started\nexec sleep 60\n"},
			shutdownAction{name: "again", idempotent: true, body: "#!/bin/bash\necho run >> " + runs + "\n" +
				"if [ \"$(wc -l < " + runs + ")\" -gt 1 ]; then echo rerun; exit 0; fi\necho started\nexec sleep 60\n"},
		)
		short1, short2 := execute(t, s, "e2e.short", nil), execute(t, s, "e2e.short", nil)
		long, again := execute(t, s, "e2e.long", nil), execute(t, s, "e2e.again", nil)
		for _, id := range []string{short1, short2, long, again} {
			waitStarted(t, s, id)
		}

		signaled := time.Now()
		require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
		eventually(t, timeout, "readyz to report the shutdown", func() bool {
			res, body := do(t, http.MethodGet, s.url+"/readyz", nil, "")
			return res.StatusCode == http.StatusServiceUnavailable && strings.Contains(body, "shutting down")
		})
		require.Equal(t, 0, s.waitExit(t, timeout+grace+10*time.Second), "exit status after SIGTERM")
		took := time.Since(signaled)
		require.GreaterOrEqual(t, took, timeout, "waited for the long actions until shutdown_timeout")
		require.Less(t, took, timeout+grace+5*time.Second, "exited within shutdown_timeout and the kill grace (plus slack)")
		log := s.out.String()
		for _, want := range []string{
			`msg="shutting down" timeout=6s`,
			`msg="waiting for running actions" running=4`,
			`msg="shutdown timeout reached; canceling the actions still running" running=2`,
			`msg="execution canceled by the shutdown" execution_id=` + long,
			`msg="execution handed back to the queue" execution_id=` + again,
			`msg="shutdown complete"`,
		} {
			require.Contains(t, log, want)
		}

		later := startServer(t, []string{"ATTUNE_WORKER_ISOLATION=off"}, "-database-url", dbURL)
		for _, id := range []string{short1, short2} {
			states := follow(t, later, id)
			last := states[len(states)-1]
			require.Equal(t, "SUCCEEDED", last.Status, "%+v", states)
			require.Equal(t, 1, last.Attempt)
		}
		states := follow(t, later, long)
		last := states[len(states)-1]
		require.Equal(t, "CANCELED", last.Status, "%+v", states)
		require.Contains(t, last.Error, "the server shut down")

		states = follow(t, later, again)
		last = states[len(states)-1]
		require.Equal(t, "SUCCEEDED", last.Status, "%+v", states)
		require.Equal(t, 2, last.Attempt, "ran again after the restart")
		var result string
		require.NoError(t, json.Unmarshal(last.Result, &result))
		require.Equal(t, "rerun", result)
		require.Equal(t, []string{"stdout: started", "stdout: rerun"}, lines(t, later, again, 0),
			"the output of both runs, in order")
	})
}

// processesUnder returns the pids of processes whose command line mentions
// dir (a killed server's orphans).
func processesUnder(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// newGate makes a fifo that blocks whoever reads it until the test writes
// it, and the setting that lets sandboxed processes (which run as another
// user) read it.
func newGate(t *testing.T) (gate, readable string) {
	t.Helper()
	dir := t.TempDir()
	gate = filepath.Join(dir, "gate")
	require.NoError(t, syscall.Mkfifo(gate, 0o600))
	require.NoError(t, os.Chmod(gate, 0o644))
	searchable(t, gate)
	return gate, "ATTUNE_WORKER_ISOLATION_READ_PATHS=" + dir
}

// serveIn serves on dbURL with data directory dataDir and waits until it
// listens. Unless doomed, cleanup requires a graceful exit.
func serveIn(t *testing.T, dbURL, dataDir string, doomed bool, env ...string) *server {
	t.Helper()
	p := start(t, env, "-listen", "127.0.0.1:0", "-data-dir", dataDir, "-database-url", dbURL)
	select {
	case addr := <-p.out.addr:
		s := &server{proc: p, url: "http://" + addr}
		if !doomed {
			t.Cleanup(func() { s.stop(t) })
		}
		return s
	case <-p.done:
		t.Fatalf("attune exited before listening: %v", p.err)
	case <-time.After(startTimeout):
		t.Fatalf("attune did not listen within %s", startTimeout)
	}
	return nil
}

// TestKilledInstallIsFailedAndCleanedAtRestart kills the server with
// SIGKILL while a Python pack's environment is being built (pip waits on
// a fifo nobody writes): the restarted server records the install FAILED
// with the reason and has removed, before it listens, the pack directory,
// the environment and the install's temp dir.
func TestKilledInstallIsFailedAndCleanedAtRestart(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		dbURL, dataDir := dbtest.URL(t, backend), t.TempDir()
		gate, readGate := newGate(t)
		src := writeTree(t, map[string]string{
			"pack.yaml":          "ref: slowenv\nversion: 1.0.0\n",
			"actions/hello.yaml": "ref: slowenv.hello\nrunner_type: python\nentry_point: hello.py\n",
			"actions/hello.py":   "print('hello')\n",
			"requirements.txt":   "-r " + gate + "\n",
		})
		s := serveIn(t, dbURL, dataDir, true, readGate)
		var started struct{ StartPackInstall struct{ ID string } }
		gqltest.New(s.url+"/graphql").Must(t, `mutation($s: String!) { startPackInstall(input: {source: $s}) { id } }`,
			map[string]any{"s": src}, &started)
		id := started.StartPackInstall.ID
		type install struct {
			Node struct{ Status, Step, Error, PackRef string }
		}
		read := func(s *server) install {
			var got install
			gqltest.New(s.url+"/graphql").Must(t, `query($id: ID!) { node(id: $id) { ... on PackInstall {
				status step error packRef } } }`, map[string]any{"id": id}, &got)
			return got
		}
		eventually(t, execDeadline, "the install to reach the environment step", func() bool {
			return read(s).Node.Step == "environment"
		})
		var pip []int
		eventually(t, execDeadline, "pip to read the requirements", func() bool {
			pip = processesUnder(filepath.Join(dataDir, "packs", "slowenv"))
			return len(pip) > 0
		})
		t.Cleanup(func() { // the orphans, unless they died with the server
			for _, pid := range processesUnder(dataDir) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		})
		require.NoError(t, s.cmd.Process.Kill())
		<-s.done

		leftovers := func() []string {
			var out []string
			for _, pattern := range []string{"packs/slowenv", "envs/slowenv-*", "packs/.tmp/install-*"} {
				m, err := filepath.Glob(filepath.Join(dataDir, pattern))
				require.NoError(t, err)
				out = append(out, m...)
			}
			return out
		}
		require.Len(t, leftovers(), 3, "the killed install left its pack dir, env and temp dir")

		later := serveIn(t, dbURL, dataDir, false)
		require.Empty(t, leftovers(), "removed before the restarted server listens")
		got := read(later).Node
		require.Equal(t, "FAILED", got.Status)
		require.Equal(t, "environment", got.Step)
		require.Equal(t, "slowenv", got.PackRef)
		require.Contains(t, got.Error, "the server stopped during the environment step")
		require.Contains(t, later.out.String(), `msg="pack install died with its server; failed and cleaned up"`)
		var packs struct{ Packs struct{ TotalCount int } }
		gqltest.New(later.url+"/graphql").Must(t, `{ packs(where: {ref: "slowenv"}) { totalCount } }`, nil, &packs)
		require.Zero(t, packs.Packs.TotalCount)
	})
}

// TestRestartLeavesAnotherNodesLiveInstall starts a second node on the
// PostgreSQL database of a node whose install is building its environment:
// the start-up sweep leaves the live install and its files alone, and the
// install then finishes.
func TestRestartLeavesAnotherNodesLiveInstall(t *testing.T) {
	t.Parallel()
	dbURL, dataDir := dbtest.URL(t, "postgres"), t.TempDir()
	gate, readGate := newGate(t)
	src := writeTree(t, map[string]string{
		"pack.yaml":          "ref: slowenv\nversion: 1.0.0\n",
		"actions/hello.yaml": "ref: slowenv.hello\nrunner_type: python\nentry_point: hello.py\n",
		"actions/hello.py":   "print('hello')\n",
		"requirements.txt":   "-r " + gate + "\n",
	})
	b := serveIn(t, dbURL, dataDir, false, readGate)
	var started struct{ StartPackInstall struct{ ID string } }
	gqltest.New(b.url+"/graphql").Must(t, `mutation($s: String!) { startPackInstall(input: {source: $s}) { id } }`,
		map[string]any{"s": src}, &started)
	status := func(s *server) (st struct{ Node struct{ Status, Step string } }) {
		gqltest.New(s.url+"/graphql").Must(t, `query($id: ID!) { node(id: $id) { ... on PackInstall { status step } } }`,
			map[string]any{"id": started.StartPackInstall.ID}, &st)
		return st
	}
	eventually(t, execDeadline, "pip to read the requirements", func() bool {
		return status(b).Node.Step == "environment" && len(processesUnder(filepath.Join(dataDir, "packs", "slowenv"))) > 0
	})

	a := serveIn(t, dbURL, t.TempDir(), false, readGate)
	require.Equal(t, "RUNNING", status(a).Node.Status, "node A's start left B's live install running")
	require.NotContains(t, a.out.String(), "pack install died")
	_, err := os.Stat(filepath.Join(dataDir, "packs", "slowenv"))
	require.NoError(t, err, "B's pack dir is still there")

	f, err := os.OpenFile(gate, os.O_WRONLY, 0) // pip reads no more requirements
	require.NoError(t, err)
	require.NoError(t, f.Close())
	eventually(t, execDeadline, "the install to finish", func() bool { return status(b).Node.Status != "RUNNING" })
	require.Equal(t, "SUCCEEDED", status(b).Node.Status)
}
