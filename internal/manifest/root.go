package manifest

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// FindRoot locates the pack inside an unpacked archive or a repository checkout: "." when
// pack.yaml is at the root of fsys, otherwise the one top-level folder holding a pack.yaml
// (archives usually wrap the pack in a folder), preferring "pack" when several do (a git
// repository keeping its pack in pack/). Pass the result to fs.Sub before Load.
func FindRoot(fsys fs.FS) (string, error) {
	if isPackDir(fsys, ".") {
		return ".", nil
	}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return "", fmt.Errorf("reading pack source: %w", err)
	}
	var found []string
	for _, e := range entries {
		if e.IsDir() && isPackDir(fsys, e.Name()) {
			found = append(found, e.Name())
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case slices.Contains(found, "pack"):
		return "pack", nil
	case len(found) == 0:
		return "", fmt.Errorf("no %s at the root, in a single top-level folder or in pack/", PackFile)
	}
	return "", fmt.Errorf("%s found in several top-level folders (%s); expected one", PackFile, strings.Join(found, ", "))
}

// isPackDir reports whether dir holds a pack.yaml (a regular file, or a symlink that Load
// will then reject with a clear problem).
func isPackDir(fsys fs.FS, dir string) bool {
	_, err := fs.Lstat(fsys, path.Join(dir, PackFile))
	return err == nil
}
