package fetch_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/fetch"
	"github.com/attune-io/attune/internal/fetch/fetchtest"
)

// onlyReader hides io.ReaderAt, as a network stream would.
type onlyReader struct{ io.Reader }

func TestExtract(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	writePack(t, src)
	targz, zipped := fetchtest.TarGz(t, src), fetchtest.Zip(t, src)

	tests := []struct {
		name   string
		format string
		r      io.Reader
		size   int64
	}{
		{"tar.gz with size", fetch.FormatTarGz, bytes.NewReader(targz), int64(len(targz))},
		{"tar.gz stream", fetch.FormatTarGz, onlyReader{bytes.NewReader(targz)}, -1},
		{"zip in place", fetch.FormatZip, bytes.NewReader(zipped), int64(len(zipped))},
		{"zip stream spooled", fetch.FormatZip, onlyReader{bytes.NewReader(zipped)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent, dst := newDst(t)
			require.NoError(t, fetch.Extract(tt.r, tt.format, tt.size, dst, fetch.Limits{}))
			requirePack(t, dst)
			requireOnlyDst(t, parent)
		})
	}
}

func TestExtractTarShapes(t *testing.T) {
	t.Parallel()
	data := tarGz(t,
		// git archive starts with a PAX global header holding the commit id.
		tarEntry{Header: tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "0123abcd"}}},
		tarEntry{Header: tar.Header{Typeflag: tar.TypeDir, Name: "./"}},
		tarEntry{Header: tar.Header{Typeflag: tar.TypeDir, Name: "./bin/"}},
		tarEntry{Header: tar.Header{Typeflag: tar.TypeDir, Name: "bin"}}, // repeated directory
		tarEntry{Header: tar.Header{Name: "./bin/setuid", Mode: 0o4755}, Body: "a"},
		tarEntry{Header: tar.Header{Name: "bin/owner-only", Mode: 0o700}, Body: "b"},
		tarEntry{Header: tar.Header{Name: "secret", Mode: 0o600}, Body: "c"},
		tarEntry{Header: tar.Header{Name: "deep//nested/./file"}, Body: "d"},
	)
	parent, dst := newDst(t)
	require.NoError(t, fetch.Extract(bytes.NewReader(data), fetch.FormatTarGz, int64(len(data)), dst, fetch.Limits{}))
	require.Equal(t, map[string]string{
		"bin/": "", "bin/setuid": "a", "bin/owner-only": "b", "secret": "c",
		"deep/": "", "deep/nested/": "", "deep/nested/file": "d",
	}, readTree(t, dst))
	requireExec(t, filepath.Join(dst, "bin", "setuid"), true)
	requireExec(t, filepath.Join(dst, "bin", "owner-only"), true)
	requireExec(t, filepath.Join(dst, "secret"), false)
	info, err := os.Stat(filepath.Join(dst, "secret"))
	require.NoError(t, err)
	require.NotZero(t, info.Mode()&0o040, "group-readable like every extracted file")
	requireOnlyDst(t, parent)
}

func TestExtractRefusesTarGz(t *testing.T) {
	t.Parallel()
	file := func(name, body string) tarEntry { return tarEntry{Header: tar.Header{Name: name}, Body: body} }
	typed := func(flag byte, name, link string) tarEntry {
		return tarEntry{Header: tar.Header{Typeflag: flag, Name: name, Linkname: link}}
	}
	valid := tarGz(t, file("a", strings.Repeat("x", 5000)))

	tests := []struct {
		name string
		data []byte
		lim  fetch.Limits
		want string
	}{
		{"parent traversal", tarGz(t, file("../evil", "x")), fetch.Limits{}, `"../evil": path traversal`},
		{"nested traversal", tarGz(t, file("a/../../evil", "x")), fetch.Limits{}, `"a/../../evil"`},
		{"absolute path", tarGz(t, file("/tmp/evil", "x")), fetch.Limits{}, `"/tmp/evil": absolute`},
		{"backslash traversal", tarGz(t, file(`..\evil`, "x")), fetch.Limits{}, `backslash`},
		{"drive letter", tarGz(t, file("C:/evil", "x")), fetch.Limits{}, `"C:/evil": drive`},
		{"symlink", tarGz(t, typed(tar.TypeSymlink, "link", "/etc/passwd")), fetch.Limits{}, `"link" is a symbolic link`},
		{"hard link", tarGz(t, file("a", "x"), typed(tar.TypeLink, "b", "a")), fetch.Limits{}, `"b" is a hard link`},
		{"char device", tarGz(t, typed(tar.TypeChar, "tty", "")), fetch.Limits{}, `"tty" is a device`},
		{"block device", tarGz(t, typed(tar.TypeBlock, "sda", "")), fetch.Limits{}, `"sda" is a device`},
		{"fifo", tarGz(t, typed(tar.TypeFifo, "pipe", "")), fetch.Limits{}, `"pipe" is a device or FIFO`},
		{"one file over MaxBytes", tarGz(t, file("big", strings.Repeat("x", 2000))), fetch.Limits{MaxBytes: 1000}, `"big": files total more than the 1000 byte limit`},
		{"files together over MaxBytes", tarGz(t, file("a", strings.Repeat("x", 600)), file("b", strings.Repeat("x", 600))), fetch.Limits{MaxBytes: 1000}, `"b": files total more`},
		{"too many files", tarGz(t, file("a", ""), file("b", ""), file("c", ""), file("d", "")), fetch.Limits{MaxFiles: 3}, `"d": more than 3 files and directories`},
		{"too many implied directories", tarGz(t, file("a/b/c/d", "")), fetch.Limits{MaxFiles: 3}, `"a/b/c/d": more than 3`},
		{"compression bomb", tarGz(t, file("zeros", strings.Repeat("\x00", 8<<20))), fetch.Limits{}, `"zeros": archive expands more than 200 times`},
		{"duplicate file", tarGz(t, file("a", "1"), file("a", "2")), fetch.Limits{}, `duplicate entry "a"`},
		{"duplicate after cleaning", tarGz(t, file("a/b", "1"), file("./a//b", "2")), fetch.Limits{}, `duplicate entry "./a//b"`},
		{"file used as directory", tarGz(t, file("a", "1"), file("a/b", "2")), fetch.Limits{}, `"a/b": "a" is a file`},
		{"directory over file", tarGz(t, file("a", "1"), typed(tar.TypeDir, "a/", "")), fetch.Limits{}, `duplicate entry "a/"`},
		{"not gzip", []byte("hello, world"), fetch.Limits{}, "invalid tar.gz archive"},
		{"truncated", valid[:len(valid)/2], fetch.Limits{}, ""},
		{"packed size over MaxDownload", valid, fetch.Limits{MaxDownload: 10}, "more than the 10 byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, size := range []int64{int64(len(tt.data)), -1} {
				parent, dst := newDst(t)
				err := fetch.Extract(onlyReader{bytes.NewReader(tt.data)}, fetch.FormatTarGz, size, dst, tt.lim)
				requireCode(t, err, fetch.CodeBadUserInput, tt.want)
				requireOnlyDst(t, parent)
			}
		})
	}
}

func TestExtractRefusesZip(t *testing.T) {
	t.Parallel()
	file := func(name, body string) zipEntry { return zipEntry{Name: name, Body: body} }
	tests := []struct {
		name string
		data []byte
		lim  fetch.Limits
		want string
	}{
		{"parent traversal", zipBytes(t, file("../evil", "x")), fetch.Limits{}, `"../evil": path traversal`},
		{"absolute path", zipBytes(t, file("/tmp/evil", "x")), fetch.Limits{}, `"/tmp/evil": absolute`},
		{"backslash traversal", zipBytes(t, file(`..\..\evil`, "x")), fetch.Limits{}, `backslash`},
		{"drive letter", zipBytes(t, file("c:/evil", "x")), fetch.Limits{}, `"c:/evil": drive`},
		{"symlink", zipBytes(t, zipEntry{Name: "link", Mode: fs.ModeSymlink | 0o777, Body: "/etc/passwd"}), fetch.Limits{}, `"link" is a symbolic link`},
		{"device", zipBytes(t, zipEntry{Name: "dev", Mode: fs.ModeDevice | 0o644}), fetch.Limits{}, `"dev" is a device`},
		{"fifo", zipBytes(t, zipEntry{Name: "pipe", Mode: fs.ModeNamedPipe | 0o644}), fetch.Limits{}, `"pipe" is a device, FIFO`},
		{"over MaxBytes", zipBytes(t, file("big", strings.Repeat("x", 2000))), fetch.Limits{MaxBytes: 1000}, `"big": files total more`},
		{"too many files", zipBytes(t, file("a", ""), file("b", ""), file("c", "")), fetch.Limits{MaxFiles: 2}, `"c": more than 2`},
		{"compression bomb", zipBytes(t, file("zeros", strings.Repeat("\x00", 8<<20))), fetch.Limits{}, `"zeros": archive expands`},
		{"duplicate file", zipBytes(t, file("a", "1"), file("a", "2")), fetch.Limits{}, `duplicate entry "a"`},
		{"file used as directory", zipBytes(t, file("a", "1"), file("a/b", "2")), fetch.Limits{}, `"a" is a file`},
		{"header understates size", lyingZip(t, "big", strings.Repeat("x", 5000), 10), fetch.Limits{MaxBytes: 1000}, `"big"`},
		{"not a zip", []byte("hello, world"), fetch.Limits{}, "invalid zip archive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, r := range []io.Reader{bytes.NewReader(tt.data), onlyReader{bytes.NewReader(tt.data)}} {
				parent, dst := newDst(t)
				err := fetch.Extract(r, fetch.FormatZip, int64(len(tt.data)), dst, tt.lim)
				requireCode(t, err, fetch.CodeBadUserInput, tt.want)
				requireOnlyDst(t, parent)
			}
		})
	}
}

// lyingZip stores body under name with a header claiming only size bytes.
func lyingZip(t testing.TB, name, body string, size uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name: name, Method: zip.Store, CRC32: crc32.ChecksumIEEE([]byte(body)),
		CompressedSize64: uint64(len(body)), UncompressedSize64: size,
	})
	require.NoError(t, err)
	_, err = w.Write([]byte(body))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestExtractMisuse(t *testing.T) {
	t.Parallel()
	t.Run("unknown format", func(t *testing.T) {
		t.Parallel()
		_, dst := newDst(t)
		err := fetch.Extract(strings.NewReader(""), "rar", 0, dst, fetch.Limits{})
		requireCode(t, err, fetch.CodeBadUserInput, `"rar"`)
	})
	t.Run("destination not empty", func(t *testing.T) {
		t.Parallel()
		_, dst := newDst(t)
		require.NoError(t, os.WriteFile(filepath.Join(dst, "old"), nil, 0o644))
		data := tarGz(t, tarEntry{Header: tar.Header{Name: "a"}})
		err := fetch.Extract(bytes.NewReader(data), fetch.FormatTarGz, int64(len(data)), dst, fetch.Limits{})
		require.ErrorContains(t, err, "not empty")
		_, isUserErr := errors.AsType[*fetch.Error](err)
		require.False(t, isUserErr, "a bad destination is the caller's bug, not the user's")
	})
}

// FuzzExtract feeds arbitrary bytes to Extract as a zip, as a tar.gz, and as
// a tar the test gzips (so the fuzzer can reach tar parsing past gzip's
// checksum). Extract must not panic, must write nothing outside dst and must
// report malformed input as a *fetch.Error.
func FuzzExtract(f *testing.F) {
	const (
		asTarGz = iota
		asTar
		asZip
		modes
	)
	src := f.TempDir()
	writePack(f, src)
	f.Add(fetchtest.TarGz(f, src), uint8(asTarGz))
	f.Add(gunzip(f, fetchtest.TarGz(f, src)), uint8(asTar))
	f.Add(gunzip(f, tarGz(f, tarEntry{Header: tar.Header{Name: "../evil"}, Body: "x"})), uint8(asTar))
	f.Add(gunzip(f, tarGz(f, tarEntry{Header: tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "/"}}, tarEntry{Header: tar.Header{Name: "l/x"}})), uint8(asTar))
	f.Add(fetchtest.Zip(f, src), uint8(asZip))
	f.Add(zipBytes(f, zipEntry{Name: "a/../../evil", Body: "x"}), uint8(asZip))
	f.Add([]byte{}, uint8(asZip))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		format := fetch.FormatTarGz
		switch mode % modes {
		case asTar:
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, err := zw.Write(data)
			require.NoError(t, err)
			require.NoError(t, zw.Close())
			data = buf.Bytes()
		case asZip:
			format = fetch.FormatZip
		}
		parent, dst := newDst(t)
		err := fetch.Extract(bytes.NewReader(data), format, int64(len(data)), dst, fetch.Limits{MaxBytes: 1 << 20, MaxFiles: 100})
		if err != nil {
			_, isUserErr := errors.AsType[*fetch.Error](err)
			require.True(t, isUserErr, "bad input must give a *fetch.Error, got %v", err)
		}
		requireOnlyDst(t, parent)
	})
}

// gunzip returns the tar inside a tar.gz, to seed the fuzzer's tar mode.
func gunzip(tb testing.TB, data []byte) []byte {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(tb, err)
	out, err := io.ReadAll(zr)
	require.NoError(tb, err)
	return out
}
