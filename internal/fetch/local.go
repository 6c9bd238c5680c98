package fetch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// allowLocal resolves a local source path through symbolic links and checks
// it lies inside one of lim.AllowedDirs (when set), so a link cannot smuggle
// in a path the operator did not allow.
func allowLocal(p string, lim Limits) (string, error) {
	resolved, err := filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", notFound("source path %s does not exist", p)
	}
	if err != nil {
		return "", badInput("cannot read source path %s: %v", p, err)
	}
	if len(lim.AllowedDirs) == 0 {
		return resolved, nil
	}
	for _, dir := range lim.AllowedDirs {
		base, err := filepath.EvalSymlinks(dir)
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(base, resolved)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return resolved, nil
		}
	}
	return "", badInput("source path %s is outside the allowed directories", p)
}

// fetchDir copies the regular files and directories under src into dst,
// skipping .git and refusing links, devices, FIFOs and sockets.
func fetchDir(ctx context.Context, src, dst string, lim Limits) error {
	t, err := newTree(dst, lim)
	if err != nil {
		return err
	}
	defer t.close()
	root, err := os.OpenRoot(src)
	if err != nil {
		return badInput("cannot open source directory %s: %v", src, err)
	}
	defer func() { _ = root.Close() }()
	return fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return badInput("cannot read %q in the source: %v", name, err)
		case ctx.Err() != nil:
			return fmt.Errorf("copy %s: %w", src, ctx.Err())
		case name == ".":
			return nil
		case d.Name() == ".git" && d.IsDir():
			return fs.SkipDir
		case d.Name() == ".git":
			return nil
		case d.IsDir():
			return t.dir(name)
		case d.Type()&fs.ModeSymlink != 0:
			return notRegular(name, "symbolic link")
		case !d.Type().IsRegular():
			return notRegular(name, "device, FIFO or socket")
		}
		return copyFile(root, name, d, t)
	})
}

// copyFile copies one regular file, checking the opened file is the one the
// walk saw, so a file swapped for a link meanwhile is refused, not followed.
func copyFile(root *os.Root, name string, d fs.DirEntry, t *tree) error {
	seen, err := d.Info()
	if err != nil {
		return badInput("cannot read %q in the source: %v", name, err)
	}
	f, err := root.Open(name)
	if err != nil {
		return badInput("cannot read %q in the source: %v", name, err)
	}
	defer func() { _ = f.Close() }()
	opened, err := f.Stat()
	if err != nil {
		return badInput("cannot read %q in the source: %v", name, err)
	}
	switch {
	case !opened.Mode().IsRegular() || !os.SameFile(seen, opened):
		return badInput("entry %q changed while being copied", name)
	case linkCount(opened) > 1:
		return notRegular(name, "hard link")
	}
	return t.file(name, opened.Mode(), f)
}
