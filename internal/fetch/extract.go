package fetch

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// tarOverhead bounds the tar bytes (header, PAX records, padding) one valid
// entry can need given maxNameLen; with MaxFiles and MaxBytes it caps the
// decompressed tar stream, which tar's reader may consume without returning
// an entry (for example a run of PAX headers).
const tarOverhead = 4 << 10

// Extract unpacks an archive read from r into dst, an existing empty
// directory. format is [FormatTarGz] or [FormatZip]; size is the packed size
// if known, else <= 0. A zip is read in place when r is an [io.ReaderAt] and
// size > 0 (offsets 0 to size, whatever r's position); otherwise it is first
// spooled to a temporary file in dst's parent, removed before returning.
//
// Returns BAD_USER_INPUT, naming the entry, for a malformed archive, an
// unsafe entry (path traversal, absolute or drive path, backslash, link,
// device, FIFO, duplicate) or one exceeding lim. The caller removes dst on
// error.
func Extract(r io.Reader, format string, size int64, dst string, lim Limits) error {
	lim = lim.withDefaults()
	if format != FormatTarGz && format != FormatZip {
		return badInput("unsupported archive format %q: want %q or %q", format, FormatTarGz, FormatZip)
	}
	if size > lim.MaxDownload {
		return badInput("archive is %d bytes, more than the %d byte limit", size, lim.MaxDownload)
	}
	t, err := newTree(dst, lim)
	if err != nil {
		return err
	}
	defer t.close()
	if format == FormatTarGz {
		packed := &meter{r: r, max: lim.MaxDownload, what: "archive"}
		t.packed = func() int64 { return max(size, packed.n) }
		return untar(packed, t)
	}
	if ra, ok := r.(io.ReaderAt); ok && size > 0 {
		return unzip(ra, size, t)
	}
	return withSpool(r, filepath.Dir(dst), lim.MaxDownload, func(f *os.File, n int64) error {
		return unzip(f, n, t)
	})
}

func untar(r io.Reader, t *tree) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return sourceErr(err, "invalid tar.gz archive")
	}
	raw := &meter{r: zr, max: t.lim.MaxBytes + int64(t.lim.MaxFiles)*tarOverhead, what: "unpacked tar stream"}
	tr := tar.NewReader(raw)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		// Go reports ErrInsecurePath only under GODEBUG=tarinsecurepath=0;
		// cleanName refuses those names with a better message.
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return sourceErr(err, "invalid tar.gz archive")
		}
		if err := untarEntry(tr, hdr, t); err != nil {
			return err
		}
	}
}

func untarEntry(tr *tar.Reader, hdr *tar.Header, t *tree) error {
	switch hdr.Typeflag {
	case tar.TypeReg:
		return t.file(hdr.Name, hdr.FileInfo().Mode(), tr)
	case tar.TypeDir:
		return t.dir(hdr.Name)
	case tar.TypeXGlobalHeader: // archive metadata, e.g. git archive's commit id
		return nil
	case tar.TypeSymlink:
		return notRegular(hdr.Name, "symbolic link")
	case tar.TypeLink:
		return notRegular(hdr.Name, "hard link")
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return notRegular(hdr.Name, "device or FIFO")
	default:
		return notRegular(hdr.Name, fmt.Sprintf("tar entry of type %q", hdr.Typeflag))
	}
}

func unzip(ra io.ReaderAt, size int64, t *tree) error {
	zr, err := zip.NewReader(ra, size)
	// As for tar, ErrInsecurePath names are left to cleanName.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return sourceErr(err, "invalid zip archive")
	}
	t.packed = func() int64 { return size }
	for _, f := range zr.File {
		if err := unzipEntry(f, t); err != nil {
			return err
		}
	}
	return nil
}

func unzipEntry(f *zip.File, t *tree) error {
	mode := f.Mode()
	switch {
	case mode.IsDir():
		return t.dir(f.Name)
	case mode&fs.ModeSymlink != 0:
		return notRegular(f.Name, "symbolic link")
	case !mode.IsRegular():
		return notRegular(f.Name, "device, FIFO or socket")
	}
	rc, err := f.Open()
	if err != nil {
		return sourceErr(err, "entry %q", f.Name)
	}
	defer func() { _ = rc.Close() }()
	return t.file(f.Name, mode, rc)
}

// meter counts the bytes read through it and fails once they pass max. It
// records read errors so that copy loops can tell a failing source (the
// user's problem) from a failing destination (ours).
type meter struct {
	r    io.Reader
	max  int64
	what string // names the limit in the error message
	n    int64
	err  error
}

func (m *meter) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.n += int64(n)
	if m.n > m.max {
		// Withhold the bytes: a reader that has all it needs could
		// otherwise finish without ever seeing the error.
		n, err = 0, badInput("%s is more than the %d byte limit", m.what, m.max)
	}
	if err != nil && err != io.EOF {
		m.err = err
	}
	return n, err
}

// withSpool copies at most limit bytes of r to a temporary file in dir and
// calls fn with the file rewound and its size; the file is removed after.
func withSpool(r io.Reader, dir string, limit int64, fn func(f *os.File, size int64) error) error {
	f, err := os.CreateTemp(dir, ".fetch-spool-*")
	if err != nil {
		return fmt.Errorf("create spool file: %w", err)
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}()
	m := &meter{r: r, max: limit, what: "archive"}
	n, err := io.Copy(f, m)
	if m.err != nil {
		return sourceErr(m.err, "read archive")
	}
	if err != nil {
		return fmt.Errorf("spool archive: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind spool file: %w", err)
	}
	return fn(f, n)
}
