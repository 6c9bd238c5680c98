package packenv_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/packenv"
	"github.com/attune-io/attune/internal/sandbox"
)

// TestSandboxedBuildAndVerify builds a venv confined (as another user when
// root), hands it back to the server's user, and verifies it confined: a
// .pth file the pack's package installed runs at the interpreter's start,
// sandboxed.
func TestSandboxedBuildAndVerify(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.Options{})
	require.NoError(t, err)
	if !sb.Enabled() || !sb.Status().Has(sandbox.Landlock) {
		t.Skip("no Landlock here: ", sb.Status().Reason)
	}
	pack := newPythonPack(t, "attunetest-mod==0.1.0\n")
	root := filepath.Dir(pack)
	tmp := filepath.Join(root, "builds")
	for _, d := range []string{filepath.Dir(root), root, pack, filepath.Join(pack, "wheels")} {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	envs := filepath.Join(root, "envs")
	require.NoError(t, os.Mkdir(envs, 0o755))
	spec := packenv.Spec{
		PackDir: pack, EnvDir: filepath.Join(envs, "p"), Python: "/usr/bin/python3", Timeout: 2 * time.Minute,
		Sandbox: sb, TempDir: tmp,
	}
	st, err := packenv.BuildPython(t.Context(), spec)
	require.NoError(t, err)
	info, err := os.Stat(filepath.Join(st.Path, "pyvenv.cfg"))
	require.NoError(t, err)
	require.Equal(t, uint32(os.Getuid()), statUID(info), "the env is handed back to the server's user")

	// A .pth line runs code at every interpreter start: confined, it may
	// not write outside its own temp dir.
	marker := filepath.Join(root, "pth-ran")
	site, err := filepath.Glob(filepath.Join(st.Path, "lib", "python3*", "site-packages"))
	require.NoError(t, err)
	require.NotEmpty(t, site)
	require.NoError(t, os.WriteFile(filepath.Join(site[0], "evil.pth"),
		[]byte("import os; open("+quote(marker)+", 'w')\n"), 0o644))
	err = spec.Verify(t.Context(), st.Path)
	require.NoFileExists(t, marker, "the .pth ran outside the sandbox")
	t.Logf("verify of a venv whose .pth fails: %v", err)
}

func quote(s string) string { return "'" + s + "'" }

func statUID(info os.FileInfo) uint32 { return info.Sys().(*syscall.Stat_t).Uid }
