package fetch_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/fetch"
)

// packFiles is the tree writePack creates and a successful fetch yields;
// directories end in "/".
var packFiles = map[string]string{
	"pack.yaml":        "ref: demo\nversion: 1.0.0\n",
	"actions/":         "",
	"actions/run.sh":   "#!/bin/sh\necho hi\n",
	"actions/run.yaml": "name: run\n",
}

// writePack writes packFiles under dir, with actions/run.sh executable.
func writePack(t testing.TB, dir string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "actions"), 0o755))
	for name, body := range packFiles {
		if name == "actions/" {
			continue
		}
		mode := fs.FileMode(0o644)
		if filepath.Ext(name) == ".sh" {
			mode = 0o755
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), mode))
	}
}

// newDst returns an empty destination inside a parent that holds nothing
// else, so requireOnlyDst can see anything written beside it.
func newDst(t testing.TB) (parent, dst string) {
	t.Helper()
	parent = t.TempDir()
	dst = filepath.Join(parent, "dst")
	require.NoError(t, os.Mkdir(dst, 0o755))
	return parent, dst
}

// requireOnlyDst checks nothing but dst was left in parent and dst holds
// only regular files and directories without special mode bits.
func requireOnlyDst(t testing.TB, parent string) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	require.NoError(t, err)
	require.Len(t, entries, 1, "temporary files left beside dst")
	require.Equal(t, "dst", entries[0].Name())
	err = filepath.WalkDir(filepath.Join(parent, "dst"), func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		info, err := d.Info()
		require.NoError(t, err)
		require.True(t, info.Mode().IsRegular() || info.IsDir(), "%s has mode %s", p, info.Mode())
		require.Zero(t, info.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky), p)
		return nil
	})
	require.NoError(t, err)
}

// readTree returns the files of dir by slash path, directories ending in "/".
func readTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, err := filepath.Rel(dir, p)
		require.NoError(t, err)
		switch {
		case rel == ".":
		case d.IsDir():
			got[filepath.ToSlash(rel)+"/"] = ""
		default:
			body, err := os.ReadFile(p)
			require.NoError(t, err)
			got[filepath.ToSlash(rel)] = string(body)
		}
		return nil
	})
	require.NoError(t, err)
	return got
}

// requirePack checks dst holds exactly packFiles with run.sh executable.
func requirePack(t testing.TB, dst string) {
	t.Helper()
	require.Equal(t, packFiles, readTree(t, dst))
	requireExec(t, filepath.Join(dst, "actions", "run.sh"), true)
	requireExec(t, filepath.Join(dst, "pack.yaml"), false)
}

func requireExec(t testing.TB, p string, want bool) {
	t.Helper()
	info, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, want, info.Mode()&0o100 != 0, "%s mode %s", p, info.Mode())
}

// requireCode checks err is a *fetch.Error with code whose message
// contains each of parts.
func requireCode(t testing.TB, err error, code string, parts ...string) {
	t.Helper()
	fe, ok := errors.AsType[*fetch.Error](err)
	require.True(t, ok, "want *fetch.Error, got %v", err)
	require.Equal(t, code, fe.Code, fe.Message)
	for _, part := range parts {
		require.Contains(t, fe.Message, part)
	}
}

// tarEntry is one entry of an archive built by tarGz; Typeflag defaults to
// a regular file, Mode to 0644 and Size to len(Body).
type tarEntry struct {
	tar.Header
	Body string
}

func tarGz(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := e.Header
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Mode == 0 && hdr.Typeflag != tar.TypeXGlobalHeader {
			hdr.Mode = 0o644
		}
		if hdr.Typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		require.NoError(t, tw.WriteHeader(&hdr))
		_, err := tw.Write([]byte(e.Body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// zipEntry is one entry of an archive built by zipBytes; Mode defaults to 0644.
type zipEntry struct {
	Name string
	Mode fs.FileMode
	Body string
}

func zipBytes(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.Name, Method: zip.Deflate}
		mode := e.Mode
		if mode == 0 {
			mode = 0o644
		}
		hdr.SetMode(mode)
		w, err := zw.CreateHeader(hdr)
		require.NoError(t, err)
		_, err = w.Write([]byte(e.Body))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}
