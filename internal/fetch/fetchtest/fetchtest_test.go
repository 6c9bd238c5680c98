package fetchtest_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/fetch/fetchtest"
)

func TestArchives(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "actions"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pack.yaml"), []byte("ref: demo\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "actions", "run.sh"), []byte("#!/bin/sh\n"), 0o755))
	want := map[string]string{"actions/": "", "actions/run.sh": "#!/bin/sh\n", "pack.yaml": "ref: demo\n"}

	t.Run("TarGz", func(t *testing.T) {
		t.Parallel()
		zr, err := gzip.NewReader(bytes.NewReader(fetchtest.TarGz(t, dir)))
		require.NoError(t, err)
		tr := tar.NewReader(zr)
		got := map[string]string{}
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			body, err := io.ReadAll(tr)
			require.NoError(t, err)
			got[hdr.Name] = string(body)
		}
		require.Equal(t, want, got)
	})
	t.Run("Zip", func(t *testing.T) {
		t.Parallel()
		data := fetchtest.Zip(t, dir)
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		require.NoError(t, err)
		got := map[string]string{}
		for _, f := range zr.File {
			rc, err := f.Open()
			require.NoError(t, err)
			body, err := io.ReadAll(rc)
			require.NoError(t, err)
			require.NoError(t, rc.Close())
			got[f.Name] = string(body)
		}
		require.Equal(t, want, got)
	})
}
