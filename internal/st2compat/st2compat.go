// Package st2compat ships attune's own StackStorm compatibility package for
// Python actions: the st2common names StackStorm packs import (the Action
// base class, its logger, config and action_service), a subset of six, and
// the wrapper that runs a python-script action the way StackStorm's does.
// The files are embedded in the binary and written, at start, to a
// directory named after their digest, so nodes of different versions never
// share one.
package st2compat

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// files holds the package; "all:" keeps __init__.py and _attune.py.
//
//go:embed all:python
var files embed.FS

// WrapperFile is the wrapper script's name inside the installed directory.
const WrapperFile = "attune_st2_wrapper.py"

// ResultFD is the file descriptor the wrapper writes run()'s outcome to.
const ResultFD = 3

// InvalidStatusExitCode is the wrapper's exit code when run() returned a
// (status, result) pair whose status is not a bool (StackStorm's 220).
const InvalidStatusExitCode = 220

// Version is the digest of the embedded files: it names the directory
// Install writes.
func Version() string {
	h := sha256.New()
	var names []string
	_ = fs.WalkDir(files, "python", func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "__pycache__" {
			return fs.SkipDir
		}
		if err == nil && !d.IsDir() {
			names = append(names, path)
		}
		return nil
	})
	sort.Strings(names)
	for _, name := range names {
		b, _ := files.ReadFile(name)
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Install writes the package under root/<Version()> unless it is there
// already, and returns that directory: it goes on PYTHONPATH, and its
// WrapperFile runs the action. The directory is written beside and renamed
// into place, so a concurrent start or a crash never leaves half a package.
func Install(root string) (string, error) {
	dir := filepath.Join(root, Version())
	if _, err := os.Stat(filepath.Join(dir, WrapperFile)); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", root, err)
	}
	tmp, err := os.MkdirTemp(root, ".install-*")
	if err != nil {
		return "", fmt.Errorf("installing the StackStorm compatibility package: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	err = fs.WalkDir(files, "python", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("python", path)
		dst := filepath.Join(tmp, rel)
		if d.IsDir() && d.Name() == "__pycache__" {
			return fs.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := files.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err == nil {
		err = os.Chmod(tmp, 0o755)
	}
	if err != nil {
		return "", fmt.Errorf("installing the StackStorm compatibility package: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another process installed the same version first.
		if _, statErr := os.Stat(filepath.Join(dir, WrapperFile)); statErr == nil {
			return dir, nil
		}
		return "", errors.Join(fmt.Errorf("installing the StackStorm compatibility package at %s", dir), err)
	}
	return dir, nil
}
