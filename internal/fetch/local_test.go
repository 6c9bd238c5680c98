//go:build unix

package fetch_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/fetch"
	"github.com/attune-io/attune/internal/fetch/fetchtest"
)

func TestFetchLocal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, tmp string) string // returns the source string
	}{
		{"directory skipping .git", func(t *testing.T, tmp string) string {
			src := filepath.Join(tmp, "pack")
			writePack(t, src)
			// A .git directory alone would make Parse pick git, so place
			// one below the root, where a copied tree might have it.
			require.NoError(t, os.MkdirAll(filepath.Join(src, "actions", ".git"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(src, "actions", ".git", "config"), nil, 0o644))
			return src
		}},
		{"tar.gz", func(t *testing.T, tmp string) string { return writeArchive(t, tmp, "pack.tar.gz") }},
		{"tgz", func(t *testing.T, tmp string) string { return writeArchive(t, tmp, "pack.tgz") }},
		{"zip", func(t *testing.T, tmp string) string { return writeArchive(t, tmp, "pack.zip") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			src, err := fetch.Parse(tt.setup(t, tmp))
			require.NoError(t, err)
			parent, dst := newDst(t)
			require.NoError(t, fetch.Fetch(t.Context(), src, dst, fetch.Limits{AllowedDirs: []string{tmp}}))
			requirePack(t, dst)
			requireOnlyDst(t, parent)
		})
	}
}

// writeArchive archives a pack as tmp/name and returns its path.
func writeArchive(t *testing.T, tmp, name string) string {
	t.Helper()
	src := t.TempDir()
	writePack(t, src)
	data := fetchtest.TarGz(t, src)
	if fetch.FormatOf(name) == fetch.FormatZip {
		data = fetchtest.Zip(t, src)
	}
	p := filepath.Join(tmp, name)
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

func TestFetchLocalRefuses(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	require.NoError(t, os.WriteFile(secret, []byte("s3cret"), 0o644))

	tests := []struct {
		name  string
		setup func(t *testing.T, allowed string) string // returns the source path
		code  string
		want  string
	}{
		{"symlink to a file", func(t *testing.T, allowed string) string {
			src := packIn(t, allowed)
			require.NoError(t, os.Symlink(secret, filepath.Join(src, "actions", "leak")))
			return src
		}, fetch.CodeBadUserInput, `"actions/leak" is a symbolic link`},
		{"symlink to a directory", func(t *testing.T, allowed string) string {
			src := packIn(t, allowed)
			require.NoError(t, os.Symlink(outside, filepath.Join(src, "lib")))
			return src
		}, fetch.CodeBadUserInput, `"lib" is a symbolic link`},
		{"hard link", func(t *testing.T, allowed string) string {
			src := packIn(t, allowed)
			// Linking across temp dirs stays on one file system.
			require.NoError(t, os.Link(filepath.Join(src, "pack.yaml"), filepath.Join(allowed, "other")))
			return src
		}, fetch.CodeBadUserInput, `"pack.yaml" is a hard link`},
		{"fifo", func(t *testing.T, allowed string) string {
			src := packIn(t, allowed)
			require.NoError(t, syscall.Mkfifo(filepath.Join(src, "pipe"), 0o644))
			return src
		}, fetch.CodeBadUserInput, `"pipe" is a device, FIFO or socket`},
		{"directory outside AllowedDirs", func(t *testing.T, _ string) string {
			return packIn(t, t.TempDir())
		}, fetch.CodeBadUserInput, "outside the allowed directories"},
		{"archive outside AllowedDirs", func(t *testing.T, _ string) string {
			return writeArchive(t, t.TempDir(), "pack.tar.gz")
		}, fetch.CodeBadUserInput, "outside the allowed directories"},
		{"symlink into AllowedDirs pointing out", func(t *testing.T, allowed string) string {
			link := filepath.Join(allowed, "pack")
			require.NoError(t, os.Symlink(packIn(t, t.TempDir()), link))
			return link
		}, fetch.CodeBadUserInput, "outside the allowed directories"},
		{"missing", func(t *testing.T, allowed string) string {
			return filepath.Join(allowed, "missing")
		}, fetch.CodeNotFound, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			allowed := t.TempDir()
			loc := tt.setup(t, allowed)
			kind := fetch.KindDir
			if fetch.FormatOf(loc) != "" {
				kind = fetch.KindArchive
			}
			parent, dst := newDst(t)
			err := fetch.Fetch(t.Context(), fetch.Source{Kind: kind, Location: loc}, dst, fetch.Limits{AllowedDirs: []string{allowed}})
			requireCode(t, err, tt.code, tt.want)
			requireOnlyDst(t, parent)
		})
	}
}

// packIn writes a pack into a new directory under dir and returns it.
func packIn(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "pack")
	writePack(t, src)
	return src
}
