package st2compat_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/st2compat"
)

// TestInstall writes the package once per version, complete (the files
// whose names start with "_" included), and the interpreter imports it.
func TestInstall(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir, err := st2compat.Install(root)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, st2compat.Version()), dir)
	for _, f := range []string{st2compat.WrapperFile, "six.py", "st2common/__init__.py", "st2common/_attune.py",
		"st2common/runners/base_action.py", "st2common/services/datastore.py", "st2actions/runners/pythonrunner.py"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	again, err := st2compat.Install(root)
	require.NoError(t, err)
	require.Equal(t, dir, again)
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no leftover install directories")

	cmd := exec.Command("python3", "-c", `import six, st2common.runners.base_action as b, st2common.services.datastore
from st2actions.runners.pythonrunner import Action
assert Action is b.Action and six.PY3`)
	cmd.Env = []string{"PYTHONPATH=" + dir, "PATH=/usr/local/bin:/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
}
