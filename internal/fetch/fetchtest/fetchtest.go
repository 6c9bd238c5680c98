// Package fetchtest builds archives of directories for tests of code that
// installs or uploads packs. It is for tests only and not a stable API.
package fetchtest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"os"
	"testing"
)

// TarGz returns a .tar.gz of the tree under dir, entries named relative to
// dir, keeping directories, file modes and any symbolic links.
func TarGz(tb testing.TB, dir string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		tb.Fatalf("archive %s: %v", dir, err)
	}
	if err := tw.Close(); err != nil {
		tb.Fatalf("close tar: %v", err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatalf("close gzip: %v", err)
	}
	return buf.Bytes()
}

// Zip returns a .zip of the regular files and directories under dir,
// entries named relative to dir, keeping file modes.
func Zip(tb testing.TB, dir string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	if err := zw.AddFS(os.DirFS(dir)); err != nil {
		tb.Fatalf("archive %s: %v", dir, err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatalf("close zip: %v", err)
	}
	return buf.Bytes()
}
