package manifest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func TestFindRoot(t *testing.T) {
	t.Parallel()
	pack := &fstest.MapFile{Data: []byte(basePack)}
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    string
		wantErr string
	}{
		{name: "at the root", fsys: fstest.MapFS{"pack.yaml": pack, "sub/pack.yaml": pack}, want: "."},
		{name: "archive folder", fsys: fstest.MapFS{"demo-1.0.0/pack.yaml": pack, "pax_global_header": {}}, want: "demo-1.0.0"},
		{name: "git repository", fsys: fstest.MapFS{"pack/pack.yaml": pack, "docs/README.md": {}}, want: "pack"},
		{name: "pack/ preferred among several", fsys: fstest.MapFS{"pack/pack.yaml": pack, "example/pack.yaml": pack}, want: "pack"},
		{
			name:    "several candidates",
			fsys:    fstest.MapFS{"a/pack.yaml": pack, "b/pack.yaml": pack},
			wantErr: "pack.yaml found in several top-level folders (a, b); expected one",
		},
		{
			name:    "none",
			fsys:    fstest.MapFS{"a/b/pack.yaml": pack, "README.md": {}},
			wantErr: "no pack.yaml at the root, in a single top-level folder or in pack/",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := FindRoot(tt.fsys)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// writeFiles creates files under dir, making parent directories.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
	}
}

func TestLoadFromDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"demo-1.0.0/pack.yaml":           basePack,
		"demo-1.0.0/requirements.txt":    "requests\n",
		"demo-1.0.0/actions/hello.yaml":  "runner_type: python\nentry_point: hello.py\n",
		"demo-1.0.0/actions/hello.py":    "print('hi')\n",
		"demo-1.0.0/wheels/requests.whl": "",
	})
	fsys := os.DirFS(dir)
	root, err := FindRoot(fsys)
	require.NoError(t, err)
	require.Equal(t, "demo-1.0.0", root)
	sub, err := fs.Sub(fsys, root)
	require.NoError(t, err)
	p, err := Load(sub)
	require.NoError(t, err)
	require.Equal(t, "actions/hello.py", p.Actions[0].EntryPoint)
	require.True(t, p.HasRequirements)
	require.True(t, p.HasWheelhouse)
	require.False(t, p.HasPackageJSON)
}

func TestLoadRejectsSymlinks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret.sh": "cat /etc/shadow\n", "evil.yaml": "runner_type: local\n"})
	writeFiles(t, dir, map[string]string{
		"pack.yaml":         basePack,
		"actions/leak.yaml": "entry_point: leak.sh\n",
	})
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.sh"), filepath.Join(dir, "actions", "leak.sh")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "evil.yaml"), filepath.Join(dir, "actions", "evil.yaml")))

	_, err := Load(os.DirFS(dir))
	verr, ok := errors.AsType[*ValidationError](err)
	require.Truef(t, ok, "want *ValidationError, got %v", err)
	require.Equal(t, []Problem{
		{File: "actions/evil.yaml", Message: "must be a regular file (symlinks are not allowed)"},
		{File: "actions/leak.yaml", Line: 1, Field: "entry_point", Message: "actions/leak.sh must be a regular file, not a directory or symlink"},
	}, verr.Problems)
}
