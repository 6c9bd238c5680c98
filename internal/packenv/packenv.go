// Package packenv builds a pack's runtime environment (a Python virtualenv or
// node_modules) at its final location.
//
// Virtualenvs are not relocatable: the venv's pyvenv.cfg, bin/activate and
// the shebang of every console script pip installs hold absolute paths. An env
// built in a staging directory and then moved starts failing with "required
// file not found" from its scripts. So environments are built where they will
// be used, and a moved pack gets a fresh build rather than a rename.
package packenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/attune-io/attune/internal/sandbox"
)

// Environment kinds reported in Status.Kind.
const (
	// KindPython is a virtualenv at Status.Path.
	KindPython = "python"
	// KindNode is a node_modules directory at Status.Path.
	KindNode = "node"
	// KindNone means the pack needs no environment.
	KindNone = "none"
)

// Spec says which pack to build an environment for and where.
type Spec struct {
	// PackDir is the pack's directory at its final location.
	PackDir string
	// EnvDir is where the virtualenv goes (e.g. <PackDir>/.venv or
	// <runtime_envs_dir>/<pack>/python); an existing EnvDir is replaced.
	// Unused by BuildNode, which installs into <PackDir>/node_modules.
	EnvDir string
	// Python is the base interpreter that creates the venv and runs pip
	// (default "python3"); it needs pip 22.3 or later for --python.
	Python string
	// Npm is the npm executable (default "npm").
	Npm string
	// Timeout bounds the whole build; zero means only ctx bounds it.
	Timeout time.Duration
	// Log, if set, receives each line the tools print, for progress display.
	Log func(line string)
	// Sandbox, when enabled, confines the tools like actions are (see
	// package sandbox): they read the system paths, the pack and their own
	// installation, and write only what they build (the venv, or the pack
	// directory for npm) and a private temp dir under TempDir, which is
	// their HOME. What they build is handed to the sandbox's user for the
	// build and back to the server's after it.
	Sandbox *sandbox.Sandbox
	// TempDir holds the private temp dirs of sandboxed builds.
	TempDir string
}

// Status describes a built environment.
type Status struct {
	// Kind is KindPython, KindNode or KindNone.
	Kind string
	// Path is the venv or node_modules directory; empty for KindNone.
	Path string
	// Checksum is Checksum(PackDir) after the build; a later mismatch means
	// the dependencies changed and the environment must be rebuilt.
	Checksum string
}

// Checksum returns the sha256 of the pack's dependency manifests
// (requirements.txt, package.json, package-lock.json) and of the file names
// in its wheels/ directory. Missing files contribute nothing, so a pack
// without dependencies has a stable checksum too.
func Checksum(packDir string) (string, error) {
	h := sha256.New()
	for _, name := range []string{"requirements.txt", "package.json", "package-lock.json"} {
		data, err := os.ReadFile(filepath.Join(packDir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", name, err)
		}
		// Length-prefixed so that no two file sets hash alike.
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
		h.Write(data)
	}
	wheels, err := os.ReadDir(filepath.Join(packDir, "wheels"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("listing wheels: %w", err)
	}
	for _, w := range wheels {
		fmt.Fprintf(h, "wheels/%s\x00", w.Name())
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// withDefaults fills in defaults and makes the paths absolute.
func (s Spec) withDefaults() (Spec, error) {
	if s.Python == "" {
		s.Python = "python3"
	}
	if s.Npm == "" {
		s.Npm = "npm"
	}
	var err error
	if s.PackDir, err = filepath.Abs(s.PackDir); err != nil {
		return s, fmt.Errorf("resolving pack directory: %w", err)
	}
	if st, err := os.Stat(s.PackDir); err != nil || !st.IsDir() {
		return s, fmt.Errorf("pack directory %s is missing", s.PackDir)
	}
	return s, nil
}

// status reports a built environment with the pack's current checksum.
func (s Spec) status(kind, path string) (Status, error) {
	sum, err := Checksum(s.PackDir)
	if err != nil {
		return Status{}, err
	}
	return Status{Kind: kind, Path: path, Checksum: sum}, nil
}

// withTimeout applies s.Timeout to ctx.
func (s Spec) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.Timeout > 0 {
		return context.WithTimeout(ctx, s.Timeout)
	}
	return context.WithCancel(ctx)
}
