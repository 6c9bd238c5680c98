package fetch

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

const (
	// ratioGrace exempts small archives from the ratio guard: a pack of a
	// few highly compressible text files is not a bomb.
	ratioGrace = 1 << 20
	// maxNameLen bounds an entry path so it always fits in PATH_MAX below
	// the destination.
	maxNameLen = 1024
	// maxComponentLen is NAME_MAX on common file systems.
	maxComponentLen = 255
)

// tree writes an untrusted stream of entries below a destination directory,
// enforcing path safety and [Limits]. All writes go through an [os.Root], so
// the kernel, not just our path checks, keeps them inside the destination.
type tree struct {
	root  *os.Root
	lim   Limits
	isDir map[string]bool // every created path, including implied parents
	bytes int64
	// packed reports the packed size for the ratio guard; nil when the
	// source is not compressed.
	packed func() int64
}

// newTree opens dst, which must exist and be empty: entries are checked for
// duplicates against what this tree created, not against what was there.
func newTree(dst string, lim Limits) (*tree, error) {
	root, err := os.OpenRoot(dst)
	if err != nil {
		return nil, fmt.Errorf("open destination: %w", err)
	}
	entries, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		_ = root.Close()
		return nil, fmt.Errorf("read destination: %w", err)
	}
	if len(entries) > 0 {
		_ = root.Close()
		return nil, fmt.Errorf("destination %s is not empty", dst)
	}
	return &tree{root: root, lim: lim, isDir: map[string]bool{}}, nil
}

// close releases the destination handle; closing a directory loses no data.
func (t *tree) close() { _ = t.root.Close() }

// dir creates the directory entry raw.
func (t *tree) dir(raw string) error {
	name, err := cleanName(raw)
	if err != nil || name == "" {
		return err
	}
	created, err := t.add(raw, name, true)
	if err != nil || !created {
		return err
	}
	if err := t.root.MkdirAll(name, 0o755); err != nil {
		return fmt.Errorf("create directory %q: %w", name, err)
	}
	return nil
}

// file creates the regular file entry raw with the contents of r. Only the
// executable bits of mode are kept: files become 0644 or 0755.
func (t *tree) file(raw string, mode fs.FileMode, r io.Reader) error {
	name, err := cleanName(raw)
	if err != nil {
		return err
	}
	if name == "" {
		return badInput("entry %q is not a valid file name", raw)
	}
	if _, err := t.add(raw, name, false); err != nil {
		return err
	}
	if dir := path.Dir(name); dir != "." {
		if err := t.root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create directory %q: %w", dir, err)
		}
	}
	perm := fs.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := t.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("create file %q: %w", name, err)
	}
	if err := t.copy(raw, f, r); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write file %q: %w", name, err)
	}
	return nil
}

// copy streams r into f, counting bytes against MaxBytes and MaxRatio as
// they arrive. Read failures are the source's fault; write failures ours.
func (t *tree) copy(raw string, f *os.File, r io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if err := t.count(raw, int64(n)); err != nil {
				return err
			}
			if _, err := f.Write(buf[:n]); err != nil {
				return fmt.Errorf("write file %q: %w", raw, err)
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return sourceErr(rerr, "read entry %q", raw)
		}
	}
}

func (t *tree) count(raw string, n int64) error {
	t.bytes += n
	if t.bytes > t.lim.MaxBytes {
		return badInput("entry %q: files total more than the %d byte limit", raw, t.lim.MaxBytes)
	}
	if t.packed != nil && t.bytes > ratioGrace && t.bytes > int64(t.lim.MaxRatio)*t.packed() {
		return badInput("entry %q: archive expands more than %d times (compression bomb?)", raw, t.lim.MaxRatio)
	}
	return nil
}

// add records name and its implied parents, refusing duplicates, a file
// used as a directory and more than MaxFiles paths. It reports whether name
// is new; repeating a directory entry is harmless.
func (t *tree) add(raw, name string, isDir bool) (bool, error) {
	for i := range len(name) {
		if name[i] != '/' {
			continue
		}
		parent := name[:i]
		dir, seen := t.isDir[parent]
		if seen && !dir {
			return false, badInput("entry %q: %q is a file, not a directory", raw, parent)
		}
		if !seen {
			if err := t.remember(raw, parent, true); err != nil {
				return false, err
			}
		}
	}
	if dir, seen := t.isDir[name]; seen {
		if dir && isDir {
			return false, nil
		}
		return false, badInput("duplicate entry %q", raw)
	}
	return true, t.remember(raw, name, isDir)
}

func (t *tree) remember(raw, name string, isDir bool) error {
	if len(t.isDir) >= t.lim.MaxFiles {
		return badInput("entry %q: more than %d files and directories", raw, t.lim.MaxFiles)
	}
	t.isDir[name] = isDir
	return nil
}

// cleanName turns an archive entry name into a clean slash-separated
// relative path ("" for the root), refusing anything that could point
// outside the destination on any platform.
func cleanName(raw string) (string, error) {
	switch {
	case raw == "":
		return "", badInput("entry with an empty name")
	case strings.ContainsAny(raw, "\\\x00"):
		return "", badInput("entry %q: backslashes and NUL bytes are not allowed in names", raw)
	case strings.HasPrefix(raw, "/"):
		return "", badInput("entry %q: absolute paths are not allowed", raw)
	case len(raw) >= 2 && raw[1] == ':' && ('a' <= raw[0]|0x20 && raw[0]|0x20 <= 'z'):
		return "", badInput("entry %q: drive letters are not allowed", raw)
	case len(raw) > maxNameLen:
		return "", badInput("entry %q: name longer than %d bytes", raw[:64]+"...", maxNameLen)
	}
	parts := make([]string, 0, strings.Count(raw, "/")+1)
	for part := range strings.SplitSeq(raw, "/") {
		switch {
		case part == "" || part == ".":
			continue
		case part == "..":
			return "", badInput("entry %q: path traversal (..) is not allowed", raw)
		case len(part) > maxComponentLen:
			return "", badInput("entry %q: name component longer than %d bytes", raw, maxComponentLen)
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "/"), nil
}

// notRegular refuses an entry that is not a regular file or directory.
func notRegular(raw, what string) *Error {
	return badInput("entry %q is a %s: only regular files and directories are allowed", raw, what)
}

// sourceErr reports a failure reading the source as the user's problem,
// keeping an *Error raised further down (a size cap) as it is.
func sourceErr(err error, format string, args ...any) error {
	if fe, ok := errors.AsType[*Error](err); ok {
		return fe
	}
	return badInput("%s: %v", fmt.Sprintf(format, args...), err)
}
