package packenv_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/packenv"
)

// writeFiles writes name → body under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
	}
}

func TestBuildNode(t *testing.T) {
	t.Parallel()
	// The dependency is a local file: package, so the test needs no registry.
	pack := t.TempDir()
	writeFiles(t, pack, map[string]string{
		"package.json":          `{"name": "demo", "version": "1.0.0", "private": true, "dependencies": {"localdep": "file:./localdep"}}`,
		"localdep/package.json": `{"name": "localdep", "version": "1.0.0", "main": "index.js"}`,
		"localdep/index.js":     `module.exports = {x: 42};`,
	})
	st, err := packenv.BuildNode(t.Context(), packenv.Spec{PackDir: pack})
	require.NoError(t, err)
	sum, err := packenv.Checksum(pack)
	require.NoError(t, err)
	require.Equal(t, packenv.Status{Kind: packenv.KindNode, Path: filepath.Join(pack, "node_modules"), Checksum: sum}, st)
	require.Equal(t, "42", output(t, pack, "node", "-e", `console.log(require("localdep").x)`))
}

func TestBuildNodeWithoutPackageJSON(t *testing.T) {
	t.Parallel()
	pack := t.TempDir()
	st, err := packenv.BuildNode(t.Context(), packenv.Spec{PackDir: pack})
	require.NoError(t, err)
	require.Equal(t, packenv.KindNone, st.Kind)
	require.Empty(t, st.Path)
	require.NoDirExists(t, filepath.Join(pack, "node_modules"))
}

func TestBuildNodeFailure(t *testing.T) {
	t.Parallel()
	pack := t.TempDir()
	writeFiles(t, pack, map[string]string{"package.json": `{"name": "demo", broken`})
	_, err := packenv.BuildNode(t.Context(), packenv.Spec{PackDir: pack})
	require.ErrorContains(t, err, "installing node modules in "+pack)
	require.ErrorContains(t, err, "EJSONPARSE")
	require.NoDirExists(t, filepath.Join(pack, "node_modules"))
}

func TestChecksum(t *testing.T) {
	t.Parallel()
	sumOf := func(files map[string]string) string {
		dir := t.TempDir()
		writeFiles(t, dir, files)
		sum, err := packenv.Checksum(dir)
		require.NoError(t, err)
		return sum
	}
	base := map[string]string{"requirements.txt": "requests==2.0\n", "actions/a.py": "print(1)\n"}
	tests := []struct {
		name  string
		files map[string]string
		same  bool
	}{
		{"same manifests elsewhere", base, true},
		{"action code does not count", map[string]string{"requirements.txt": "requests==2.0\n", "actions/a.py": "print(2)\n"}, true},
		{"requirements changed", map[string]string{"requirements.txt": "requests==2.1\n"}, false},
		{"wheel added", map[string]string{"requirements.txt": "requests==2.0\n", "wheels/requests-2.0-py3-none-any.whl": "x"}, false},
		{"same bytes in package.json", map[string]string{"package.json": "requests==2.0\n"}, false},
		{"no manifests", map[string]string{}, false},
	}
	want := sumOf(base)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.same, sumOf(tt.files) == want)
		})
	}
}
