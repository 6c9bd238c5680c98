package pack_test

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/ent/packfile"
	"github.com/attune-io/attune/ent/packinstall"
	"github.com/attune-io/attune/ent/trigger"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/fetch/fetchtest"
	"github.com/attune-io/attune/internal/pack"
	"github.com/attune-io/attune/internal/store"
)

type bundle struct {
	svc   *pack.Service
	db    *store.DB
	packs string
	envs  string
}

func setup(t *testing.T, backend string) *bundle {
	t.Helper()
	db := dbtest.Open(t, backend)
	dir := t.TempDir()
	b := &bundle{db: db, packs: filepath.Join(dir, "packs"), envs: filepath.Join(dir, "envs")}
	svc, err := pack.NewService(db, pack.Config{
		PacksDir: b.packs, EnvsDir: b.envs,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	require.NoError(t, err)
	b.svc = svc
	return b
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// writePack writes files (path → content) into a new directory; paths
// ending in .sh are executable.
func writePack(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		mode := fs.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
	}
	return dir
}

func shellPack(ref, version string, extra map[string]string) map[string]string {
	files := map[string]string{
		"pack.yaml":          "ref: " + ref + "\nversion: " + version + "\nlabel: Test pack\n",
		"actions/hello.yaml": "runner_type: shell\nentry_point: hello.sh\nparameters:\n  who: {type: string, default: world}\n",
		"actions/hello.sh":   "#!/usr/bin/env bash\necho hello\n",
		"triggers/ping.yaml": "description: a ping\n",
		"rules/on_ping.yaml": "trigger: ping\naction: hello\ncriteria:\n  trigger.n: {type: gt, pattern: 1}\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	return files
}

// requireClean asserts no trace of any pack: no rows, no directory, no env, no temp.
func (b *bundle) requireClean(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	n, err := b.db.Ent.Pack.Query().Count(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "no pack rows")
	require.Zero(t, b.db.Ent.Action.Query().CountX(ctx), "no action rows")
	packs, _ := os.ReadDir(b.packs)
	for _, e := range packs {
		require.Equal(t, ".tmp", e.Name(), "no pack directory left")
	}
	entries, _ := os.ReadDir(b.envs)
	require.Empty(t, entries, "no environment left")
	tmp, _ := os.ReadDir(filepath.Join(b.packs, ".tmp"))
	require.Empty(t, tmp, "no temp leftovers")
}

func TestInstallFromEverySourceKind(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		dir := writePack(t, shellPack("src_dir", "1.0.0", nil))
		archives := t.TempDir()
		tgz := filepath.Join(archives, "p.tar.gz")
		require.NoError(t, os.WriteFile(tgz, fetchtest.TarGz(t, writePack(t, shellPack("src_tgz", "1.0.0", nil))), 0o644))
		zipPath := filepath.Join(archives, "p.zip")
		require.NoError(t, os.WriteFile(zipPath, fetchtest.Zip(t, writePack(t, shellPack("src_zip", "1.0.0", nil))), 0o644))
		served := fetchtest.TarGz(t, writePack(t, shellPack("src_url", "1.0.0", nil)))
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(served)
		}))
		t.Cleanup(srv.Close)
		repo := gitRepo(t, shellPack("src_git", "1.0.0", nil))
		cases := map[string]string{
			"src_dir": dir, "src_tgz": tgz, "src_zip": zipPath, "src_url": srv.URL + "/pack.tar.gz",
			"src_git": "file://" + repo + "#v1",
		}
		b := setup(t, backend)
		for ref, source := range cases {
			res, err := b.svc.Install(t.Context(), pack.Request{Source: source})
			require.NoError(t, err, ref)
			require.Equal(t, ref, res.Pack.Ref)
			require.Equal(t, filepath.Join(b.packs, ref, res.Pack.Checksum), res.Pack.Path, "each version has its directory")
			require.FileExists(t, filepath.Join(res.Pack.Path, "actions", "hello.sh"))
			require.Equal(t, packinstall.StatusSUCCEEDED, res.Install.Status)
			acts := b.db.Ent.Action.Query().Where(action.PackRef(ref)).AllX(t.Context())
			require.Len(t, acts, 1)
			require.Equal(t, ref+".hello", acts[0].Ref)
			require.Equal(t, "actions/hello.sh", acts[0].EntryPoint)
		}
		require.Equal(t, len(cases), b.db.Ent.Rule.Query().CountX(t.Context()))
		// Uploads use the same path with the archive streamed in.
		up := fetchtest.Zip(t, writePack(t, shellPack("src_upload", "1.0.0", nil)))
		res, err := b.svc.Install(t.Context(), pack.Request{Upload: &pack.Upload{
			File: bytes.NewReader(up), Filename: "my-pack.zip", Size: int64(len(up)),
		}})
		require.NoError(t, err)
		require.Equal(t, "upload:my-pack.zip", res.Pack.Source)
		tmp, _ := os.ReadDir(filepath.Join(b.packs, ".tmp"))
		require.Empty(t, tmp, "temp dirs are removed")
	})
}

func gitRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := writePack(t, files)
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"}, {"add", "-A"},
		{"-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "v1"},
		{"tag", "v1"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	return dir
}

// TestPythonEnvironmentLivesAtItsFinalPlace is the seed's bug as a test:
// the venv is built where it is used, its paths all point there, nothing
// of it sits in a temp dir, and the action imports its wheelhouse library.
func TestPythonEnvironmentLivesAtItsFinalPlace(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		src, err := filepath.Abs("../../examples/packs/python_example")
		require.NoError(t, err)
		res, err := b.svc.Install(t.Context(), pack.Request{Source: src})
		require.NoError(t, err)
		p := res.Pack
		require.Equal(t, "READY", string(p.EnvStatus))
		require.True(t, strings.HasPrefix(p.EnvPath, b.envs+string(filepath.Separator)), p.EnvPath)

		py := filepath.Join(p.EnvPath, "bin", "python")
		out, err := exec.Command(py, "-c", "import sys; print(sys.prefix)").Output()
		require.NoError(t, err)
		require.Equal(t, p.EnvPath, strings.TrimSpace(string(out)))
		require.FileExists(t, filepath.Join(p.EnvPath, "pyvenv.cfg"))
		bins, err := os.ReadDir(filepath.Join(p.EnvPath, "bin"))
		require.NoError(t, err)
		for _, e := range bins {
			body, err := os.ReadFile(filepath.Join(p.EnvPath, "bin", e.Name()))
			if err != nil || !bytes.HasPrefix(body, []byte("#!")) {
				continue
			}
			line, _, _ := bytes.Cut(body, []byte("\n"))
			if bytes.Contains(line, []byte("python")) {
				require.Contains(t, string(line), p.EnvPath, "shebang of %s", e.Name())
			}
		}
		tmp, _ := os.ReadDir(filepath.Join(b.packs, ".tmp"))
		require.Empty(t, tmp, "no venv (or anything) in a temp dir")

		cmd := exec.Command(py, "-u", filepath.Join(p.Path, "actions", "greet.py"))
		cmd.Dir = p.Path
		cmd.Stdin = strings.NewReader(`{"name":"attune"}` + "\n")
		out, err = cmd.Output()
		require.NoError(t, err)
		require.Contains(t, string(out), "Hello, attune!")
		require.Contains(t, string(out), p.EnvPath, "the library is imported from the pack's venv")
	})
}

// TestFailedInstallLeavesNothing fails an install at each step and checks
// that no row, directory, environment or temp dir remains, and the error
// names the step.
func TestFailedInstallLeavesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		source func(t *testing.T) string
		setup  func(t *testing.T, b *bundle)
		code   apperr.Code
		step   string
		want   string
	}{
		{
			name:   "FetchMissing",
			source: func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") },
			code:   apperr.NotFound, step: "fetch",
		},
		{
			name: "ValidateBadYAML",
			source: func(t *testing.T) string {
				return writePack(t, shellPack("bad", "1.0.0", map[string]string{
					"actions/broken.yaml": "runner_type: shell\nentry_point: [oops\n",
					"actions/ghost.yaml":  "runner_type: shell\nentry_point: missing.sh\n",
				}))
			},
			code: apperr.BadUserInput, step: "validate", want: "actions/broken.yaml",
		},
		{
			name: "EnvironmentPipFails",
			source: func(t *testing.T) string {
				return writePack(t, map[string]string{
					"pack.yaml":        "ref: pipfail\nversion: 1.0.0\n",
					"requirements.txt": "surely-not-a-package-attune==9.9.9\n",
					"wheels/.keep":     "",
					"actions/x.yaml":   "runner_type: python\nentry_point: x.py\n",
					"actions/x.py":     "print(1)\n",
				})
			},
			code: apperr.BadUserInput, step: "environment", want: "surely-not-a-package-attune",
		},
		{
			name: "RegisterDatabaseFails",
			source: func(t *testing.T) string {
				return writePack(t, shellPack("regfail", "1.0.0", map[string]string{
					"requirements.txt":  "", // a Python env gets built, then must go
					"actions/boom.yaml": "runner_type: python\nentry_point: boom.py\n",
					"actions/boom.py":   "print(1)\n",
				}))
			},
			setup: func(t *testing.T, b *bundle) { failInsertsOf(t, b.db, "regfail.boom") },
			step:  "register",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dbtest.Run(t, func(t *testing.T, backend string) {
				b := setup(t, backend)
				if tc.setup != nil {
					tc.setup(t, b)
				}
				_, err := b.svc.Install(t.Context(), pack.Request{Source: tc.source(t)})
				require.Error(t, err)
				if tc.code != "" {
					e, ok := apperr.As(err)
					require.True(t, ok, "client error expected, got %v", err)
					require.Equal(t, tc.code, e.Code, e.Message)
					require.Equal(t, tc.step, e.Details["step"])
					require.True(t, strings.HasPrefix(e.Message, tc.step+":"), e.Message)
					require.Contains(t, e.Message, tc.want)
				}
				b.requireClean(t)
				rec := b.db.Ent.PackInstall.Query().OnlyX(t.Context())
				require.Equal(t, packinstall.StatusFAILED, rec.Status)
				require.Equal(t, tc.step, rec.Step)
			})
		})
	}
}

// failInsertsOf makes the database refuse an action row, to fail the
// register step for real.
func failInsertsOf(t *testing.T, db *store.DB, ref string) {
	t.Helper()
	stmts := []string{`CREATE TRIGGER fail_action BEFORE INSERT ON actions
		WHEN NEW.ref = '` + ref + `' BEGIN SELECT RAISE(ABORT, 'refused by test'); END`}
	if db.Dialect == "postgres" {
		stmts = []string{
			`CREATE FUNCTION fail_action() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF NEW.ref = '` + ref + `' THEN RAISE EXCEPTION 'refused by test'; END IF; RETURN NEW; END $$`,
			`CREATE TRIGGER fail_action BEFORE INSERT ON actions FOR EACH ROW EXECUTE FUNCTION fail_action()`,
		}
	}
	for _, s := range stmts {
		_, err := db.SQL.ExecContext(t.Context(), s)
		require.NoError(t, err)
	}
}

func TestInstallValidationListsEveryProblem(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	src := writePack(t, map[string]string{
		"pack.yaml":      "ref: Bad-Ref\nversion: one\n",
		"actions/a.yaml": "runner_type: cobol\nentry_point: a.sh\n",
		"actions/b.yaml": "runner_type: shell\nentry_point: ../../etc/passwd\n",
		"rules/r.yaml":   "trigger: nowhere.trig\naction: nowhere.act\n",
	})
	_, err := b.svc.Install(t.Context(), pack.Request{Source: src})
	e, ok := apperr.As(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, apperr.BadUserInput, e.Code)
	probs, _ := e.Details["problems"].([]map[string]any)
	require.GreaterOrEqual(t, len(probs), 4, "every problem is listed: %v", probs)
	files := map[string]bool{}
	for _, p := range probs {
		files[p["file"].(string)] = true
	}
	require.True(t, files["pack.yaml"] && files["actions/a.yaml"] && files["actions/b.yaml"], "%v", probs)

	// The install's record lists them on the step that failed, for
	// clients following it (attune pack install's problems table).
	rec, err := b.db.Ent.PackInstall.Query().Only(t.Context())
	require.NoError(t, err)
	failed := rec.Steps[len(rec.Steps)-1]
	require.Equal(t, "failed", failed["status"])
	recorded, _ := failed["problems"].([]any)
	require.Len(t, recorded, len(probs))
	for i, p := range recorded {
		require.Equal(t, probs[i]["file"], p.(map[string]any)["file"])
		require.Equal(t, float64(probs[i]["line"].(int)), p.(map[string]any)["line"])
	}
}

func TestRulesReferencingUnknownOrInvalidCriteriaAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	src := writePack(t, shellPack("crit", "1.0.0", map[string]string{
		"rules/bad.yaml":  "trigger: ping\naction: hello\ncriteria:\n  trigger.x: {type: frobnicate, pattern: 1}\naction_params:\n  who: \"{{ trigger.x \"\n",
		"rules/gone.yaml": "trigger: other.trig\naction: hello\n",
	}))
	_, err := b.svc.Install(t.Context(), pack.Request{Source: src})
	e, ok := apperr.As(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, apperr.BadUserInput, e.Code)
	msg := e.Message
	require.Contains(t, msg, "frobnicate")
	require.Contains(t, msg, "action_params.who")
	// A rule waiting for a pack not installed yet is a warning, not a problem.
	require.NotContains(t, msg, "other.trig")
	b.requireClean(t)
}

// TestUpgradeKeepsIDsAndReplacesAtomically installs v1, points another
// pack's rule at its action, then upgrades: same-ref components keep ids,
// removed ones go (history keeps refs), and a failed upgrade leaves v1 whole.
func TestUpgradeKeepsIDsAndReplacesAtomically(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		ctx := t.Context()
		v1 := shellPack("up", "1.0.0", map[string]string{
			"actions/old.yaml": "runner_type: shell\nentry_point: hello.sh\n",
			"requirements.txt": "",
			"actions/py.yaml":  "runner_type: python\nentry_point: py.py\n",
			"actions/py.py":    "print('v1')\n",
		})
		first, err := b.svc.Install(ctx, pack.Request{Source: writePack(t, v1)})
		require.NoError(t, err)
		hello := b.db.Ent.Action.Query().Where(action.Ref("up.hello")).OnlyX(ctx)
		old := b.db.Ent.Action.Query().Where(action.Ref("up.old")).OnlyX(ctx)
		exec := b.db.Ent.Execution.Create().SetAction(old).SetActionRef(old.Ref).SetPackRef("up").
			SetStatus("SUCCEEDED").SaveX(ctx)
		other, err := b.svc.Install(ctx, pack.Request{Source: writePack(t, map[string]string{
			"pack.yaml":    "ref: other\nversion: 1.0.0\n",
			"rules/r.yaml": "trigger: up.ping\naction: up.hello\n",
		})})
		require.NoError(t, err)

		_, err = b.svc.Install(ctx, pack.Request{Source: writePack(t, v1)})
		require.Equal(t, apperr.Conflict, apperr.CodeOf(err), "existing pack without force")

		// A failing upgrade (broken requirements) leaves v1 whole.
		broken := shellPack("up", "3.0.0", map[string]string{
			"requirements.txt": "surely-not-a-package-attune==1\n", "wheels/.keep": "",
			"actions/py.yaml": "runner_type: python\nentry_point: py.py\n", "actions/py.py": "print('v3')\n",
		})
		_, err = b.svc.Install(ctx, pack.Request{Source: writePack(t, broken), Force: true})
		require.Equal(t, apperr.BadUserInput, apperr.CodeOf(err))
		still := b.db.Ent.Pack.GetX(ctx, first.Pack.ID)
		require.Equal(t, "1.0.0", still.Version)
		require.Equal(t, first.Pack.EnvPath, still.EnvPath)
		require.FileExists(t, filepath.Join(still.Path, "actions", "old.yaml"), "v1 files are back")
		require.DirExists(t, still.EnvPath)
		require.True(t, b.db.Ent.Action.Query().Where(action.Ref("up.old")).ExistX(ctx))

		// A webhook enabled with a key since survives the upgrade.
		b.db.Ent.Trigger.Update().Where(trigger.Ref("up.ping")).SetWebhookKey("wh_x").
			SetWebhookEnabled(true).ExecX(ctx)
		v2 := shellPack("up", "2.0.0", map[string]string{
			"actions/new.yaml": "runner_type: shell\nentry_point: hello.sh\n",
			"requirements.txt": "",
			"actions/py.yaml":  "runner_type: python\nentry_point: py.py\n",
			"actions/py.py":    "print('v2')\n",
		})
		second, err := b.svc.Install(ctx, pack.Request{Source: writePack(t, v2), Force: true})
		require.NoError(t, err)
		require.Equal(t, first.Pack.ID, second.Pack.ID)
		require.True(t, b.db.Ent.Trigger.Query().Where(trigger.Ref("up.ping")).OnlyX(ctx).WebhookEnabled)
		require.Equal(t, "2.0.0", second.Pack.Version)
		require.Equal(t, first.Pack.EnvPath, second.Pack.EnvPath, "same requirements keep the env")
		require.Equal(t, hello.ID, b.db.Ent.Action.Query().Where(action.Ref("up.hello")).OnlyIDX(ctx), "ids kept")
		require.False(t, b.db.Ent.Action.Query().Where(action.Ref("up.old")).ExistX(ctx), "removed action deleted")
		require.True(t, b.db.Ent.Action.Query().Where(action.Ref("up.new")).ExistX(ctx))
		kept := b.db.Ent.Execution.GetX(ctx, exec.ID)
		require.Nil(t, kept.ActionID)
		require.Equal(t, "up.old", kept.ActionRef)
		r := b.db.Ent.Rule.Query().Where().AllX(ctx)
		for _, rr := range r {
			if rr.PackRef == other.Pack.Ref {
				require.NotNil(t, rr.ActionID)
				require.Equal(t, hello.ID, *rr.ActionID, "the other pack's rule still points at the action")
			}
		}
		body, err := os.ReadFile(filepath.Join(second.Pack.Path, "actions", "py.py"))
		require.NoError(t, err)
		require.Contains(t, string(body), "v2")

		// Changed requirements build a new env; the old version and its
		// env stay for the executions requested before, until the sweep
		// finds nothing points at them.
		v4 := shellPack("up", "4.0.0", map[string]string{
			"requirements.txt": "# changed\n",
			"actions/py.yaml":  "runner_type: python\nentry_point: py.py\n", "actions/py.py": "print('v4')\n",
		})
		fourth, err := b.svc.Install(ctx, pack.Request{Source: writePack(t, v4), Force: true})
		require.NoError(t, err)
		require.NotEqual(t, first.Pack.EnvPath, fourth.Pack.EnvPath)
		require.DirExists(t, first.Pack.EnvPath)
		require.DirExists(t, second.Pack.Path)
		require.NoError(t, b.svc.SweepVersions(ctx))
		require.NoDirExists(t, first.Pack.EnvPath)
		require.Len(t, b.db.Ent.PackFile.Query().Where(packfile.PackRef("up")).GroupBy(packfile.FieldChecksum).StringsX(ctx), 3,
			"v1, v2 and v4: the database keeps unused versions until a second sweep")
		require.NoError(t, b.svc.SweepVersions(ctx))
		require.NoDirExists(t, second.Pack.Path)
		require.DirExists(t, fourth.Pack.EnvPath)
		require.DirExists(t, fourth.Pack.Path)
		stored := b.db.Ent.PackFile.Query().Where(packfile.PackRef("up")).GroupBy(packfile.FieldChecksum).StringsX(ctx)
		require.Equal(t, []string{fourth.Pack.Checksum}, stored, "only the current version stays stored")
	})
}

func TestDeletePack(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		ctx := t.Context()
		res, err := b.svc.Install(ctx, pack.Request{Source: writePack(t, shellPack("gone", "1.0.0", map[string]string{
			"requirements.txt": "", "actions/py.yaml": "runner_type: python\nentry_point: py.py\n", "actions/py.py": "",
		}))})
		require.NoError(t, err)
		hello := b.db.Ent.Action.Query().Where(action.Ref("gone.hello")).OnlyX(ctx)
		running := b.db.Ent.Execution.Create().SetAction(hello).SetActionRef(hello.Ref).SetPackRef("gone").
			SetStatus("RUNNING").SaveX(ctx)
		other, err := b.svc.Install(ctx, pack.Request{Source: writePack(t, map[string]string{
			"pack.yaml": "ref: keeper\nversion: 1.0.0\n", "rules/r.yaml": "trigger: gone.ping\naction: gone.hello\n",
		})})
		require.NoError(t, err)

		_, err = b.svc.Delete(ctx, "gone", false)
		e, ok := apperr.As(err)
		require.True(t, ok, "%v", err)
		require.Equal(t, apperr.Conflict, e.Code)
		require.Contains(t, e.Message, "1 active execution")
		require.DirExists(t, res.Pack.Path, "a refused delete touches no file")

		b.db.Ent.Execution.UpdateOne(running).SetStatus("SUCCEEDED").ExecX(ctx)
		del, err := b.svc.Delete(ctx, "gone", false)
		require.NoError(t, err)
		require.Equal(t, "gone", del.Ref)
		require.NoDirExists(t, res.Pack.Path)
		require.NoDirExists(t, filepath.Dir(res.Pack.Path), "the pack's versions directory")
		require.NoDirExists(t, res.Pack.EnvPath)
		require.False(t, b.db.Ent.PackFile.Query().Where(packfile.PackRef("gone")).ExistX(ctx), "its files leave the database")
		require.False(t, b.db.Ent.Action.Query().Where(action.PackRef("gone")).ExistX(ctx))
		kept := b.db.Ent.Execution.GetX(ctx, running.ID)
		require.Nil(t, kept.ActionID)
		require.Equal(t, "gone.hello", kept.ActionRef)
		rule := b.db.Ent.Rule.Query().Where().AllX(ctx)
		require.Len(t, rule, 1)
		require.Equal(t, other.Pack.Ref, rule[0].PackRef)
		require.Nil(t, rule[0].ActionID)
		require.Nil(t, rule[0].TriggerID)
		require.Equal(t, "gone.hello", rule[0].ActionRef)

		// Reinstalling heals the other pack's rule.
		_, err = b.svc.Install(ctx, pack.Request{Source: writePack(t, shellPack("gone", "1.0.1", nil))})
		require.NoError(t, err)
		healed := b.db.Ent.Rule.GetX(ctx, rule[0].ID)
		require.NotNil(t, healed.ActionID)
		require.NotNil(t, healed.TriggerID)

		_, err = b.svc.Delete(ctx, "nope", false)
		require.Equal(t, apperr.NotFound, apperr.CodeOf(err))
		_, err = b.svc.EnsureCore(ctx)
		require.NoError(t, err)
		_, err = b.svc.Delete(ctx, "core", true)
		require.Equal(t, apperr.Forbidden, apperr.CodeOf(err))
	})
}

func TestConcurrentInstallsOfOneRef(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		src := writePack(t, shellPack("race", "1.0.0", map[string]string{
			"requirements.txt": "", "actions/py.yaml": "runner_type: python\nentry_point: py.py\n", "actions/py.py": "",
		}))
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = b.svc.Install(t.Context(), pack.Request{Source: src})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			require.Equal(t, apperr.Conflict, apperr.CodeOf(err), "%v", err)
		}
		require.Equal(t, 1, ok, "exactly one install wins")
		p := b.db.Ent.Pack.Query().OnlyX(t.Context())
		require.FileExists(t, filepath.Join(p.Path, "actions", "hello.sh"))
		require.DirExists(t, p.EnvPath)
		envs, _ := os.ReadDir(b.envs)
		require.Len(t, envs, 1, "no stray environment")
		tmp, _ := os.ReadDir(filepath.Join(b.packs, ".tmp"))
		require.Empty(t, tmp)
	})
}

func TestInstallProgressStreamsSteps(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		rec, err := b.svc.Start(t.Context(), pack.Request{Source: writePack(t, shellPack("prog", "1.0.0", nil))})
		require.NoError(t, err)
		ch, err := b.svc.Progress(t.Context(), rec.ID)
		require.NoError(t, err)
		var last *ent.PackInstall
		seen := map[string]bool{}
		for r := range ch {
			last = r
			seen[r.Step] = true
		}
		require.NotNil(t, last)
		require.Equal(t, packinstall.StatusSUCCEEDED, last.Status)
		require.Equal(t, "prog", last.PackRef)
		var names []string
		for _, st := range last.Steps {
			names = append(names, st["name"].(string))
			require.Equal(t, "done", st["status"])
		}
		require.Equal(t, []string{"fetch", "validate", "move", "environment", "register", "cleanup"}, names)
	})
}

// TestInstallProgressStreamsToolLines: while the environment builds, the
// install's record carries pip's (npm's) lines as they come (the
// environment step's output and outputLines), and the finished record
// keeps the last.
func TestInstallProgressStreamsToolLines(t *testing.T) {
	t.Parallel()
	python, err := filepath.Abs("../../examples/packs/python_example")
	require.NoError(t, err)
	node := writePack(t, shellPack("nodeenv", "1.0.0", map[string]string{
		// A local dependency: no registry needed.
		"package.json":          `{"name": "nodeenv", "version": "1.0.0", "private": true, "dependencies": {"localdep": "file:./localdep"}}`,
		"localdep/package.json": `{"name": "localdep", "version": "1.0.0", "main": "index.js"}`,
		"localdep/index.js":     `module.exports = {x: 42};`,
	}))
	for _, tc := range []struct{ name, src, last string }{
		{"pip", python, "Successfully installed attune-greeting"},
		{"npm", node, "added 1 package"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dbtest.Run(t, func(t *testing.T, backend string) {
				b := setup(t, backend)
				rec, err := b.svc.Start(t.Context(), pack.Request{Source: tc.src})
				require.NoError(t, err)
				ch, err := b.svc.Progress(t.Context(), rec.ID)
				require.NoError(t, err)
				var live []string // lines seen while the environment step ran
				counts := []int{}
				for r := range ch {
					for _, st := range r.Steps {
						if st["name"] != "environment" || st["status"] != "running" || st["output"] == nil {
							continue
						}
						// Records published on this node hold []string and int;
						// those read back from the row []any and float64.
						switch lines := st["output"].(type) {
						case []string:
							live = append(live, lines[len(lines)-1])
							counts = append(counts, st["outputLines"].(int))
						case []any:
							live = append(live, lines[len(lines)-1].(string))
							counts = append(counts, int(st["outputLines"].(float64)))
						}
					}
				}
				t.Logf("live: %q", live)
				require.NotEmpty(t, live, "the tool's lines while the environment step runs")
				require.True(t, containsPrefix(live, tc.last), "%q", live)
				require.IsIncreasing(t, dedupe(counts))

				done, err := b.db.Ent.PackInstall.Get(t.Context(), rec.ID)
				require.NoError(t, err)
				require.Equal(t, packinstall.StatusSUCCEEDED, done.Status)
				var env map[string]any
				for _, st := range done.Steps {
					if st["name"] == "environment" {
						env = st
					}
				}
				require.NotNil(t, env)
				out := env["output"].([]any)
				require.NotEmpty(t, out)
				require.LessOrEqual(t, len(out), 10)
				require.Contains(t, out[len(out)-1], tc.last)
				require.GreaterOrEqual(t, env["outputLines"], float64(len(out)))
			})
		})
	}
}

func containsPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func dedupe(n []int) []int {
	var out []int
	for i, v := range n {
		if i == 0 || v != n[i-1] {
			out = append(out, v)
		}
	}
	return out
}
