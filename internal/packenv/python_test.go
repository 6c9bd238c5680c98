package packenv_test

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/packenv"
)

// writeWheel writes a pure-python wheel of distribution "attunetest-mod"
// 0.1.0 into dir: module attunetest_mod with X = 42 and a console script
// attunetest-hello. A wheel is a zip with a dist-info directory, so no build
// tool is needed.
func writeWheel(t *testing.T, dir string) {
	t.Helper()
	const info = "attunetest_mod-0.1.0.dist-info/"
	files := []struct{ name, body string }{
		{"attunetest_mod.py", "X = 42\n\ndef main():\n    print('hello from attunetest')\n"},
		{info + "METADATA", "Metadata-Version: 2.1\nName: attunetest-mod\nVersion: 0.1.0\n"},
		{info + "WHEEL", "Wheel-Version: 1.0\nGenerator: attune-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{info + "entry_points.txt", "[console_scripts]\nattunetest-hello = attunetest_mod:main\n"},
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	f, err := os.Create(filepath.Join(dir, "attunetest_mod-0.1.0-py3-none-any.whl"))
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	var record strings.Builder
	for _, file := range files {
		w, err := zw.Create(file.name)
		require.NoError(t, err)
		_, err = w.Write([]byte(file.body))
		require.NoError(t, err)
		sum := sha256.Sum256([]byte(file.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", file.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(file.body))
	}
	record.WriteString(info + "RECORD,,\n")
	w, err := zw.Create(info + "RECORD")
	require.NoError(t, err)
	_, err = w.Write([]byte(record.String()))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
}

// newPythonPack makes a pack with a wheelhouse holding attunetest-mod and
// the given requirements.txt.
func newPythonPack(t *testing.T, requirements string) string {
	t.Helper()
	pack := filepath.Join(t.TempDir(), "pack")
	writeWheel(t, filepath.Join(pack, "wheels"))
	require.NoError(t, os.WriteFile(filepath.Join(pack, "requirements.txt"), []byte(requirements), 0o644))
	return pack
}

// output runs a command and returns its trimmed combined output.
func output(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	return strings.TrimSpace(string(out))
}

func firstLine(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.SplitN(string(data), "\n", 2)[0]
}

func TestBuildPythonInstallsFromWheelhouse(t *testing.T) {
	t.Parallel()
	pack := newPythonPack(t, "attunetest-mod==0.1.0\n")
	env := filepath.Join(pack, ".venv")
	var mu sync.Mutex
	var logged []string
	st, err := packenv.BuildPython(t.Context(), packenv.Spec{
		PackDir: pack, EnvDir: env, Timeout: 2 * time.Minute,
		Log: func(line string) { mu.Lock(); defer mu.Unlock(); logged = append(logged, line) },
	})
	require.NoError(t, err)
	sum, err := packenv.Checksum(pack)
	require.NoError(t, err)
	require.Equal(t, packenv.Status{Kind: packenv.KindPython, Path: env, Checksum: sum}, st)
	require.Contains(t, strings.Join(logged, "\n"), "Successfully installed attunetest-mod-0.1.0")

	python := filepath.Join(env, "bin", "python")
	require.Equal(t, "42\n"+env,
		output(t, pack, python, "-c", "import attunetest_mod, sys; print(attunetest_mod.X); print(sys.prefix)"))
	require.FileExists(t, filepath.Join(env, "pyvenv.cfg"))
	script := filepath.Join(env, "bin", "attunetest-hello")
	require.Equal(t, "#!"+python, firstLine(t, script))
	require.Equal(t, "hello from attunetest", output(t, pack, script))
	require.NoError(t, packenv.Verify(t.Context(), env))
}

// TestBuildPythonIsNotRelocatable documents why environments are built in
// place: a renamed venv keeps absolute paths in its console scripts.
func TestBuildPythonIsNotRelocatable(t *testing.T) {
	t.Parallel()
	pack := newPythonPack(t, "attunetest-mod==0.1.0\n")
	staged := filepath.Join(t.TempDir(), "staging-venv")
	_, err := packenv.BuildPython(t.Context(), packenv.Spec{PackDir: pack, EnvDir: staged})
	require.NoError(t, err)
	final := filepath.Join(pack, ".venv")
	require.NoError(t, os.Rename(staged, final))

	require.Equal(t, "#!"+filepath.Join(staged, "bin", "python"), firstLine(t, filepath.Join(final, "bin", "attunetest-hello")))
	err = exec.CommandContext(t.Context(), filepath.Join(final, "bin", "attunetest-hello")).Run()
	require.Error(t, err, "the script's interpreter is gone with the old path")
	err = packenv.Verify(t.Context(), final)
	require.ErrorContains(t, err, "it was moved; rebuild it in place")
}

func TestBuildPythonFailureRemovesEnv(t *testing.T) {
	t.Parallel()
	pack := newPythonPack(t, "notthere==1.0\n")
	env := filepath.Join(pack, ".venv")
	_, err := packenv.BuildPython(t.Context(), packenv.Spec{PackDir: pack, EnvDir: env})
	require.ErrorContains(t, err, "No matching distribution found for notthere==1.0")
	require.ErrorContains(t, err, "building python environment "+env)
	require.NoDirExists(t, env)
}

func TestBuildPythonWithoutRequirements(t *testing.T) {
	t.Parallel()
	pack := t.TempDir()
	env := filepath.Join(t.TempDir(), "envs", "demo", "python")
	// A stale env from an earlier build is replaced.
	require.NoError(t, os.MkdirAll(filepath.Join(env, "stale"), 0o755))
	st, err := packenv.BuildPython(t.Context(), packenv.Spec{PackDir: pack, EnvDir: env})
	require.NoError(t, err)
	require.Equal(t, packenv.KindPython, st.Kind)
	require.NoDirExists(t, filepath.Join(env, "stale"))
	require.NoError(t, packenv.Verify(t.Context(), env))
}

func TestBuildPythonTimeoutKillsTools(t *testing.T) {
	t.Parallel()
	pack := t.TempDir()
	// A "python" that hangs with a child process, like a stuck pip.
	fake := filepath.Join(t.TempDir(), "python3")
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\necho creating\nsleep 300 &\nwait\n"), 0o755))
	env := filepath.Join(t.TempDir(), "venv")
	start := time.Now()
	_, err := packenv.BuildPython(t.Context(), packenv.Spec{
		PackDir: pack, EnvDir: env, Python: fake, Timeout: 200 * time.Millisecond,
	})
	require.ErrorContains(t, err, "signal: killed")
	require.ErrorContains(t, err, "creating")
	require.Less(t, time.Since(start), time.Minute)
	require.NoDirExists(t, env)
}

func TestBuildPythonRejectsBadSpecs(t *testing.T) {
	t.Parallel()
	pack := t.TempDir()
	tests := []struct {
		name string
		spec packenv.Spec
		want string
	}{
		{"env contains pack", packenv.Spec{PackDir: pack, EnvDir: filepath.Dir(pack)}, "contains the pack directory"},
		{"env is pack", packenv.Spec{PackDir: pack, EnvDir: pack}, "contains the pack directory"},
		{"no env dir", packenv.Spec{PackDir: pack}, "python environment directory not set"},
		{"pack missing", packenv.Spec{PackDir: filepath.Join(pack, "gone"), EnvDir: filepath.Join(pack, "env")}, "is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := packenv.BuildPython(t.Context(), tt.spec)
			require.ErrorContains(t, err, tt.want)
			require.DirExists(t, pack)
		})
	}
}

func TestVerifyRejectsNonVenv(t *testing.T) {
	t.Parallel()
	err := packenv.Verify(t.Context(), t.TempDir())
	require.ErrorContains(t, err, "pyvenv.cfg")
}
