package runner_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/runner"
	"github.com/attune-io/attune/internal/sandbox"
)

// TestMain lets the test binary serve as the sandbox launcher.
func TestMain(m *testing.M) {
	sandbox.Launch(os.Args)
	os.Exit(m.Run())
}

// TestSandboxedRunIsPrivate: a sandboxed run gets its own directory as HOME
// and TMPDIR, holding its parameter file, which it may read; it may not
// write its pack or the worker's temp dir, and its directory is gone after
// the run.
func TestSandboxedRunIsPrivate(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{})
	require.NoError(t, err)
	if !sb.Enabled() || !sb.Status().Has(sandbox.Landlock) {
		t.Skip("no Landlock here: ", sb.Status().Reason)
	}
	pack := newPack(t, map[string]string{"a.sh": "#!/bin/bash\n" +
		"echo home=$HOME tmp=$TMPDIR\n" +
		"cat \"$ATTUNE_PARAMETERS_FILE\"; echo\n" +
		"echo x > \"$TMPDIR/mine\" && echo wrote-own\n" +
		"echo x > pwned 2>/dev/null || echo pack-refused\n" +
		"ls \"$(dirname \"$HOME\")\" >/dev/null 2>&1 || echo worker-tmp-refused\n"})
	tmp := t.TempDir()
	for _, d := range []string{pack, filepath.Dir(pack), tmp, filepath.Dir(tmp)} {
		require.NoError(t, os.Chmod(d, 0o755)) // reachable by the action user
	}
	res, err := runner.Run(t.Context(), runner.Request{
		Runner: runner.Shell, PackDir: pack, EntryPoint: "a.sh", TempDir: tmp, Sandbox: sb,
		Delivery: runner.DeliveryFile, Parameters: map[string]any{"x": 1},
	})
	require.NoError(t, err)
	require.Empty(t, res.Error, res.Stderr)
	home := strings.TrimPrefix(strings.Fields(res.Stdout)[0], "home=")
	require.Equal(t, tmp, filepath.Dir(home), "the run's directory is under TempDir")
	require.Contains(t, res.Stdout, "tmp="+home)
	require.Contains(t, res.Stdout, `{"x":1}`)
	require.Contains(t, res.Stdout, "wrote-own")
	require.Contains(t, res.Stdout, "pack-refused")
	require.Contains(t, res.Stdout, "worker-tmp-refused")
	_, err = os.Stat(home)
	require.ErrorIs(t, err, os.ErrNotExist, "the run's directory is removed")
}

// TestSandboxedNativeEntryAtPackRoot: a native entry point at the root of
// its pack reaches its pack, not the packs beside it.
func TestSandboxedNativeEntryAtPackRoot(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{})
	require.NoError(t, err)
	if !sb.Enabled() || !sb.Status().Has(sandbox.Landlock) {
		t.Skip("no Landlock here: ", sb.Status().Reason)
	}
	packs := t.TempDir()
	mine, other := filepath.Join(packs, "mine"), filepath.Join(packs, "other")
	require.NoError(t, os.MkdirAll(other, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(other, "secret.txt"), []byte("other-pack-data"), 0o644))
	require.NoError(t, os.MkdirAll(mine, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(mine, "run.sh"),
		[]byte("#!/bin/sh\ncat ../other/secret.txt || echo other-refused\n"), 0o755))
	tmp := t.TempDir()
	for _, d := range []string{packs, filepath.Dir(packs), tmp, filepath.Dir(tmp)} {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	res, err := runner.Run(t.Context(), runner.Request{
		Runner: runner.Native, PackDir: mine, EntryPoint: "run.sh", TempDir: tmp, Sandbox: sb,
	})
	require.NoError(t, err)
	require.NotContains(t, res.Stdout, "other-pack-data")
	require.Contains(t, res.Stdout, "other-refused")
}
