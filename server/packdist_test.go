package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent/pack"
	"github.com/attune-io/attune/ent/packfile"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
	"github.com/attune-io/attune/internal/store"
)

// startWorker starts a process of roles (default worker; api not among
// them: it serves no HTTP) with its own data directory and waits until its
// worker runs. On cleanup it is stopped with SIGTERM and must exit 0.
func startWorker(t *testing.T, env []string, dataDir, dbURL string, roles ...string) *proc {
	t.Helper()
	if len(roles) == 0 {
		roles = []string{"worker"}
	}
	p := start(t, env, "-data-dir", dataDir, "-database-url", dbURL, "-roles", strings.Join(roles, ","))
	eventually(t, startTimeout, "the worker to start", func() bool {
		select {
		case <-p.done:
			t.Fatalf("worker exited: %v", p.err)
		default:
		}
		return strings.Contains(p.out.String(), `msg="worker started"`)
	})
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
		}
		require.Equal(t, 0, p.wait(t), "worker exit status after SIGTERM")
	})
	return p
}

// holdPack is python_example (its library comes from its wheelhouse) with
// an action that reports the pack version it runs, where its files and its
// library are, once the file named by its gate parameter exists.
func holdPack(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS("../examples/packs/python_example")))
	files := map[string]string{
		"actions/hold.yaml": "ref: python_example.hold\nrunner_type: python\nentry_point: hold.py\n" +
			"parameters:\n  gate: {type: string, required: true}\n",
		"actions/hold.py": `import json, os, sys, time
import attune_greeting
params = json.loads(sys.stdin.readline() or "{}")
while not os.path.exists(params["gate"]):
    time.sleep(0.05)
print(json.dumps({"version": "` + version + `", "library": attune_greeting.__file__,
                  "pack": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}))
`,
	}
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	yaml, err := os.ReadFile(filepath.Join(dir, "pack.yaml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pack.yaml"),
		[]byte(strings.Replace(string(yaml), "version: 1.0.0", "version: "+version, 1)), 0o644))
	return dir
}

// TestPacksTravelThroughTheDatabase runs a cluster without shared storage:
// an API-only process and two worker-only processes, each with its own data
// directory, on one PostgreSQL. A Python pack with a wheelhouse installed
// on the API node runs on both workers, each writing the version from the
// database into its own packs_dir and building its own venv there; the
// second worker starts after the install, and its first build fails (its
// execution FAILED in preparation) and is retried by the next execution,
// which succeeds. A forced upgrade while
// executions wait: those requested before it run the old version, those
// after it the new. A delete leaves no file of the pack on any node, nor in
// the database.
func TestPacksTravelThroughTheDatabase(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.URL(t, "postgres")
	// One run at a time per worker: two held runs occupy both workers.
	env := []string{"ATTUNE_PACKS_SWEEP_INTERVAL=1s", "ATTUNE_WORKER_CONCURRENCY=1", "ATTUNE_WORKER_ISOLATION=off"}
	dirs := map[string]string{"api": t.TempDir(), "w1": t.TempDir(), "w2": t.TempDir()}
	api := startServer(t, env, "-database-url", dbURL, "-roles", "api", "-data-dir", dirs["api"])
	startWorker(t, append(env, "ATTUNE_WORKER_NAME=w1"), dirs["w1"], dbURL)
	gql := gqltest.New(api.url + "/graphql")

	install := func(src string, force bool) string {
		var out struct {
			InstallPack struct{ Pack struct{ Version string } }
		}
		gql.Must(t, `mutation($s: String!, $f: Boolean) { installPack(input: {source: $s, force: $f}) { pack { version } } }`,
			map[string]any{"s": src, "f": force}, &out)
		return out.InstallPack.Pack.Version
	}
	checksum := func() string {
		db, err := store.Open(t.Context(), dbURL, "")
		require.NoError(t, err)
		defer db.Close()
		return db.Ent.Pack.Query().Where(pack.Ref("python_example")).OnlyX(t.Context()).Checksum
	}
	gates := t.TempDir()
	searchable(t, gates)
	hold := func(gate string) string {
		return execute(t, api, "python_example.hold", map[string]any{"gate": filepath.Join(gates, gate)})
	}
	type ran struct{ Version, Library, Pack string }
	// finish opens gate and returns how each execution ran, by worker.
	finish := func(gate string, ids ...string) (runs []ran, workers []string) {
		require.NoError(t, os.WriteFile(filepath.Join(gates, gate), nil, 0o644))
		for _, id := range ids {
			states := follow(t, api, id)
			last := states[len(states)-1]
			require.Equal(t, "SUCCEEDED", last.Status, "%+v", states)
			var r ran
			require.NoError(t, json.Unmarshal(last.Result, &r), string(last.Result))
			dir, ok := dirs[last.Worker]
			require.True(t, ok, "ran on worker %q", last.Worker)
			require.True(t, strings.HasPrefix(r.Library, filepath.Join(dir, "envs")+string(filepath.Separator)),
				"%s imported its library from its own venv: %s", last.Worker, r.Library)
			require.True(t, strings.HasPrefix(r.Pack, filepath.Join(dir, "packs", "python_example")+string(filepath.Separator)),
				"%s ran its own copy: %s", last.Worker, r.Pack)
			runs, workers = append(runs, r), append(workers, last.Worker)
		}
		return runs, workers
	}

	require.Equal(t, "1.0.0", install(holdPack(t, "1.0.0"), false))
	v1 := checksum()
	// A held run occupies w1, the only worker yet.
	first := hold("first")
	eventually(t, execDeadline, "w1 to run the first execution", func() bool {
		var got struct {
			Execution struct{ Status, Worker string }
		}
		gql.Must(t, `query($id: ID!) { execution(id: $id) { status worker } }`, map[string]any{"id": first}, &got)
		return got.Execution.Status == "RUNNING" && got.Execution.Worker == "w1"
	})

	// w2 starts after the install and catches up from the database. Its
	// interpreter fails while the file "broken" exists: the execution
	// fails in preparation, and the next one builds again and succeeds.
	bin := t.TempDir()
	broken := filepath.Join(bin, "broken")
	require.NoError(t, os.WriteFile(broken, nil, 0o644))
	python := filepath.Join(bin, "python3")
	require.NoError(t, os.WriteFile(python, []byte("#!/bin/sh\nif [ -e "+broken+" ]; then echo 'no interpreter here' >&2; exit 1; fi\n"+
		"exec "+systemPython+" \"$@\"\n"), 0o755))
	startWorker(t, append(env, "ATTUNE_WORKER_NAME=w2", "ATTUNE_PACKS_PYTHON="+python), dirs["w2"], dbURL)
	states := follow(t, api, hold("first"))
	failed := states[len(states)-1]
	require.Equal(t, "FAILED", failed.Status, "%+v", states)
	require.Equal(t, "w2", failed.Worker)
	require.Contains(t, failed.Error, "Execution failed during preparation: ")
	require.Contains(t, failed.Error, "no interpreter here")
	require.NoError(t, os.Remove(broken))

	// Two held runs: one on each worker.
	runs, workers := finish("first", first, hold("first"))
	require.ElementsMatch(t, []string{"w1", "w2"}, workers)
	for i, r := range runs {
		require.Equal(t, "1.0.0", r.Version)
		require.Equal(t, filepath.Join(dirs[workers[i]], "packs", "python_example", v1), r.Pack)
	}

	// Forced upgrade mid-stream: four requested before it (two running,
	// two queued behind them), two after.
	before := []string{hold("upgrade"), hold("upgrade"), hold("upgrade"), hold("upgrade")}
	require.Equal(t, "2.0.0", install(holdPack(t, "2.0.0"), true))
	v2 := checksum()
	require.NotEqual(t, v1, v2)
	after := []string{hold("upgrade"), hold("upgrade")}
	runs, workers = finish("upgrade", append(before, after...)...)
	for i, r := range runs {
		want, sum := "1.0.0", v1
		if i >= len(before) {
			want, sum = "2.0.0", v2
		}
		require.Equal(t, want, r.Version, "execution %d", i)
		require.Equal(t, filepath.Join(dirs[workers[i]], "packs", "python_example", sum), r.Pack)
	}

	// Delete: no file of the pack on any node, nor in the database.
	gql.Must(t, `mutation { deletePack(input: {ref: "python_example"}) { deletedRef } }`, nil, nil)
	db, err := store.Open(t.Context(), dbURL, "")
	require.NoError(t, err)
	defer db.Close()
	require.False(t, db.Ent.PackFile.Query().Where(packfile.PackRef("python_example")).ExistX(t.Context()))
	left := func() []string {
		var found []string
		for name, dir := range dirs {
			for _, sub := range []string{"packs", "envs"} {
				entries, _ := os.ReadDir(filepath.Join(dir, sub))
				for _, e := range entries {
					if strings.HasPrefix(e.Name(), "python_example") {
						found = append(found, name+"/"+sub+"/"+e.Name())
					}
				}
			}
		}
		return found
	}
	eventually(t, 20*time.Second, "every node to remove the pack's files", func() bool { return len(left()) == 0 })
}

// versionDir is the one version directory of pack ref in the data
// directory dataDir: <packs_dir>/<ref>/<checksum>.
func versionDir(t *testing.T, dataDir, ref string) string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(dataDir, "packs", ref, strings.Repeat("[0-9a-f]", 64)))
	require.NoError(t, err)
	require.Len(t, dirs, 1, "versions of %s", ref)
	return dirs[0]
}

// TestSensorRunsOnANodeWithoutThePack installs a pack with a sensor on an
// API-only node; a sensor node with its own data directory writes the pack
// from the database and runs the sensor from its own copy.
func TestSensorRunsOnANodeWithoutThePack(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.URL(t, "postgres")
	api := startServer(t, eventsEnv, "-database-url", dbURL, "-roles", "api")
	dir := t.TempDir()
	startWorker(t, eventsEnv, dir, dbURL, "sensor,worker")
	gql := gqltest.New(api.url + "/graphql")
	src := writeTree(t, map[string]string{
		"pack.yaml":           "ref: sn\nversion: 1.0.0\n",
		"triggers/ping.yaml":  "description: a ping\n",
		"sensors/pinger.yaml": "runner_type: shell\nentry_point: pinger.sh\ntrigger_types: [sn.ping]\n",
		"sensors/pinger.sh":   "#!/usr/bin/env bash\nread -r input\necho \"{\\\"trigger\\\": \\\"sn.ping\\\", \\\"payload\\\": {\\\"dir\\\": \\\"$PWD\\\"}}\"\nexec sleep 600\n",
	})
	gql.Must(t, `mutation($s: String!) { installPack(input: {source: $s}) { pack { ref } } }`, map[string]any{"s": src}, nil)
	gql.Must(t, `mutation($in: CreateRuleInput!) { createRule(input: $in) { rule { ref } } }`, map[string]any{"in": map[string]any{
		"ref": "sn.on_ping", "pack": "sn", "trigger": "sn.ping", "action": "core.noop",
	}}, nil)
	var payload struct{ Dir string }
	eventually(t, 30*time.Second, "the sensor's event", func() bool {
		var out struct {
			Events struct {
				Edges []struct {
					Node struct{ Payload json.RawMessage }
				}
			}
		}
		gql.Must(t, `{ events(where: {triggerRef: "sn.ping"}) { edges { node { payload } } } }`, nil, &out)
		if len(out.Events.Edges) == 0 {
			return false
		}
		require.NoError(t, json.Unmarshal(out.Events.Edges[0].Node.Payload, &payload))
		return true
	})
	require.Equal(t, versionDir(t, dir, "sn"), payload.Dir, "the sensor ran from the sensor node's own copy")
}
