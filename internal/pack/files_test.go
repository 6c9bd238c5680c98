package pack_test

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent/packfile"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/pack"
	"github.com/attune-io/attune/internal/store"
)

// lockedBuffer collects a service's log lines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// node is a second pack service on the same database with its own
// directories: another machine of the cluster.
func node(t *testing.T, db *store.DB, python string) (*pack.Service, string, *lockedBuffer) {
	t.Helper()
	dir := t.TempDir()
	log := &lockedBuffer{}
	svc, err := pack.NewService(db, pack.Config{
		PacksDir: filepath.Join(dir, "packs"), EnvsDir: filepath.Join(dir, "envs"), Python: python,
		Logger: slog.New(slog.NewTextHandler(log, nil)),
	})
	require.NoError(t, err)
	return svc, dir, log
}

// TestPackTravelsThroughTheDatabase installs a Python pack with a
// wheelhouse and a file of several chunks on one node, and prepares it on
// another that shares only the database: the version is written from the
// database into that node's packs_dir with the same bytes and modes, and
// its venv is built there, at its final place, where the action imports
// the wheelhouse's library.
func TestPackTravelsThroughTheDatabase(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		ctx := t.Context()
		src := t.TempDir()
		require.NoError(t, os.CopyFS(src, os.DirFS("../../examples/packs/python_example")))
		big := make([]byte, 2<<20+12345) // three chunks
		r := rand.New(rand.NewPCG(1, 2))
		for i := range big {
			big[i] = byte(r.IntN(256))
		}
		require.NoError(t, os.MkdirAll(filepath.Join(src, "data"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(src, "data", "big.bin"), big, 0o640))
		require.NoError(t, os.WriteFile(filepath.Join(src, "data", "empty"), nil, 0o600))
		res, err := b.svc.Install(ctx, pack.Request{Source: src})
		require.NoError(t, err)
		p := res.Pack
		require.Equal(t, filepath.Join(b.packs, "python_example", p.Checksum), p.Path)
		chunks := b.db.Ent.PackFile.Query().Where(packfile.Checksum(p.Checksum), packfile.Path("data/big.bin")).CountX(ctx)
		require.Equal(t, 3, chunks)

		other, dir, log := node(t, b.db, "")
		got, err := other.Prepare(ctx, "python_example", p.Checksum)
		require.NoError(t, err)
		require.Equal(t, filepath.Join(dir, "packs", "python_example", p.Checksum), got.Dir)
		require.True(t, strings.HasPrefix(got.EnvPath, filepath.Join(dir, "envs")+string(filepath.Separator)), got.EnvPath)
		body, err := os.ReadFile(filepath.Join(got.Dir, "data", "big.bin"))
		require.NoError(t, err)
		require.True(t, bytes.Equal(big, body), "the big file comes back whole")
		for _, name := range []string{"data/big.bin", "data/empty", "actions/greet.py", "pack.yaml"} {
			want, err := os.Stat(filepath.Join(p.Path, name))
			require.NoError(t, err)
			st, err := os.Stat(filepath.Join(got.Dir, name))
			require.NoError(t, err)
			require.Equal(t, want.Mode().Perm(), st.Mode().Perm(), name)
			require.Equal(t, want.Size(), st.Size(), name)
		}
		cmd := exec.Command(filepath.Join(got.EnvPath, "bin", "python"), "-u", filepath.Join(got.Dir, "actions", "greet.py"))
		cmd.Dir = got.Dir
		cmd.Stdin = strings.NewReader(`{"name":"node"}` + "\n")
		out, err := cmd.Output()
		require.NoError(t, err)
		require.Contains(t, string(out), "Hello, node!")
		require.Contains(t, string(out), got.EnvPath, "the library is imported from this node's venv")
		tmp, _ := os.ReadDir(filepath.Join(dir, "packs", ".tmp"))
		require.Empty(t, tmp, "nothing left in the temp dir")

		// Prepared once: the next run finds it, the current version too.
		again, err := other.Prepare(ctx, "python_example", "")
		require.NoError(t, err)
		require.Equal(t, got, again)
		require.Equal(t, 1, log.count("building pack environment"))

		// The installing node's copy is the first one: nothing is built.
		own, err := b.svc.Prepare(ctx, "python_example", p.Checksum)
		require.NoError(t, err)
		require.Equal(t, pack.Local{Dir: p.Path, EnvPath: p.EnvPath}, own)

		// Delete: the files leave the database, and the other node's sweep
		// removes its copy.
		_, err = b.svc.Delete(ctx, "python_example", false)
		require.NoError(t, err)
		require.NoError(t, other.SweepVersions(ctx))
		for _, sub := range []string{"packs", "envs"} {
			entries, err := os.ReadDir(filepath.Join(dir, sub))
			require.NoError(t, err)
			for _, e := range entries {
				require.Equal(t, ".tmp", e.Name(), "left in %s", sub)
			}
		}
		_, err = other.Prepare(ctx, "python_example", p.Checksum)
		require.ErrorContains(t, err, "not stored in the database")
	})
}

// TestPreparationIsSharedAndNotCached holds a node's environment build
// while four callers ask for the same version: one build runs, its failure
// reaches all four, and the next caller builds again and succeeds.
func TestPreparationIsSharedAndNotCached(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		ctx := t.Context()
		src, err := filepath.Abs("../../examples/packs/python_example")
		require.NoError(t, err)
		res, err := b.svc.Install(ctx, pack.Request{Source: src})
		require.NoError(t, err)
		sum := res.Pack.Checksum

		// The other node's interpreter fails, once the test lets it,
		// while the file "fail" exists.
		bin := t.TempDir()
		gate := filepath.Join(bin, "gate")
		require.NoError(t, syscall.Mkfifo(gate, 0o600))
		python, err := exec.LookPath("python3")
		require.NoError(t, err)
		wrapper := filepath.Join(bin, "python3")
		require.NoError(t, os.WriteFile(filepath.Join(bin, "fail"), nil, 0o600))
		require.NoError(t, os.WriteFile(wrapper, []byte("#!/bin/sh\nif [ -e "+bin+"/fail ]; then read x < "+gate+
			"; echo 'no interpreter here' >&2; exit 1; fi\nexec "+python+" \"$@\"\n"), 0o755))
		other, _, log := node(t, b.db, wrapper)

		const callers = 4
		errs := make(chan error, callers)
		for range callers {
			go func() {
				_, err := other.Prepare(ctx, "python_example", sum)
				errs <- err
			}()
		}
		deadline := time.Now().Add(10 * time.Second)
		for pack.Waiters(other, "python_example", sum) < callers {
			require.True(t, time.Now().Before(deadline), "the callers wait for one preparation")
			time.Sleep(10 * time.Millisecond)
		}
		require.NoError(t, os.WriteFile(gate, []byte("go\n"), 0o600))
		for range callers {
			err := <-errs
			require.ErrorContains(t, err, "no interpreter here")
		}
		require.Equal(t, 1, log.count("building pack environment"), "one build for all")

		require.NoError(t, os.Remove(filepath.Join(bin, "fail")))
		got, err := other.Prepare(ctx, "python_example", sum)
		require.NoError(t, err, "a failure is not remembered")
		require.DirExists(t, got.EnvPath)
		require.Equal(t, 2, log.count("building pack environment"))
	})
}

// TestPackFromAnOlderAttune starts from a pack installed before packs were
// stored (its files directly in <packs_dir>/<ref>, none in the database):
// the start sweep stores them from the intact copy, another node then runs
// it, and a reinstall moves it to the versioned layout.
func TestPackFromAnOlderAttune(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		ctx := t.Context()
		res, err := b.svc.Install(ctx, pack.Request{Source: writePack(t, shellPack("old", "1.0.0", nil))})
		require.NoError(t, err)
		legacy := filepath.Join(b.packs, "old")
		moved := filepath.Join(t.TempDir(), "old")
		require.NoError(t, os.Rename(res.Pack.Path, moved))
		require.NoError(t, os.Remove(legacy))
		require.NoError(t, os.Rename(moved, legacy))
		b.db.Ent.Pack.UpdateOneID(res.Pack.ID).SetPath(legacy).ExecX(ctx)
		b.db.Ent.PackFile.Delete().ExecX(ctx)

		other, dir, _ := node(t, b.db, "")
		own, err := b.svc.Prepare(ctx, "old", "")
		require.NoError(t, err)
		require.Equal(t, legacy, own.Dir, "it runs where its row says")

		require.NoError(t, b.svc.Sweep(ctx))
		got, err := other.Prepare(ctx, "old", "")
		require.NoError(t, err, "stored from the intact copy at start")
		require.Equal(t, filepath.Join(dir, "packs", "old", res.Pack.Checksum), got.Dir)
		require.FileExists(t, filepath.Join(got.Dir, "actions", "hello.sh"))

		again, err := b.svc.Install(ctx, pack.Request{Source: writePack(t, shellPack("old", "1.0.0", nil)), Force: true})
		require.NoError(t, err)
		require.Equal(t, filepath.Join(legacy, res.Pack.Checksum), again.Pack.Path)
		require.FileExists(t, filepath.Join(again.Pack.Path, "pack.yaml"))
		require.NoFileExists(t, filepath.Join(legacy, "pack.yaml"), "the old layout is gone")
	})
}

// TestSharedPacksDirFindsTheVersion gives a second node the first one's
// packs_dir and envs_dir: it finds the installed version and its venv there,
// writing and building nothing.
func TestSharedPacksDirFindsTheVersion(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		ctx := t.Context()
		src, err := filepath.Abs("../../examples/packs/python_example")
		require.NoError(t, err)
		res, err := b.svc.Install(ctx, pack.Request{Source: src})
		require.NoError(t, err)
		log := &lockedBuffer{}
		shared, err := pack.NewService(b.db, pack.Config{
			PacksDir: b.packs, EnvsDir: b.envs, Logger: slog.New(slog.NewTextHandler(log, nil)),
		})
		require.NoError(t, err)
		got, err := shared.Prepare(ctx, "python_example", res.Pack.Checksum)
		require.NoError(t, err)
		require.Equal(t, pack.Local{Dir: res.Pack.Path, EnvPath: res.Pack.EnvPath}, got)
		require.Zero(t, log.count("written from the database"))
		require.Zero(t, log.count("building pack environment"))
	})
}

// TestNodeUpgradeCopiesModules upgrades a Node pack whose dependencies did
// not change: the new version gets a copy of the old one's node_modules
// (npm does not run: the upgrading service's npm is false), and the old
// version keeps its own for the executions requested before the switch.
func TestNodeUpgradeCopiesModules(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm is not installed")
	}
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		ctx := t.Context()
		files := map[string]string{
			"pack.yaml":        "ref: nodeup\nversion: 1.0.0\n",
			"package.json":     `{"private": true, "dependencies": {"dep": "file:./dep"}}`,
			"dep/package.json": `{"name": "dep", "version": "1.0.0"}`,
			"dep/index.js":     "module.exports = 1;\n",
			"actions/hi.yaml":  "runner_type: node\nentry_point: hi.js\n",
			"actions/hi.js":    "console.log(require('dep'));\n",
		}
		first, err := b.svc.Install(ctx, pack.Request{Source: writePack(t, files)})
		require.NoError(t, err)
		require.DirExists(t, filepath.Join(first.Pack.Path, "node_modules"))
		lock, err := os.ReadFile(filepath.Join(first.Pack.Path, "package-lock.json"))
		require.NoError(t, err)

		noNpm, err := pack.NewService(b.db, pack.Config{PacksDir: b.packs, EnvsDir: b.envs, Npm: "false"})
		require.NoError(t, err)
		files["pack.yaml"] = "ref: nodeup\nversion: 2.0.0\n"
		files["package-lock.json"] = string(lock)
		second, err := noNpm.Install(ctx, pack.Request{Source: writePack(t, files), Force: true})
		require.NoError(t, err)
		require.NotEqual(t, first.Pack.Path, second.Pack.Path)
		require.FileExists(t, filepath.Join(second.Pack.Path, "node_modules", "dep", "index.js"))
		require.FileExists(t, filepath.Join(first.Pack.Path, "node_modules", "dep", "index.js"), "the old version keeps its modules")
	})
}
