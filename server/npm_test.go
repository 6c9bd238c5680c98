package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// npmCache is where npmInstall keeps the packages tests install, by the
// list of packages (git ignores it): a second run installs nothing.
var npmCache = filepath.Join("..", ".cache", "npm")

var npmMu sync.Mutex

// npmInstall installs pkgs (name@version each) with npm and returns the
// directory holding their node_modules. Without npm (or node) it skips the
// test loudly, except with CI=true, where it fails.
func npmInstall(t *testing.T, pkgs ...string) string {
	t.Helper()
	_, errNpm := exec.LookPath("npm")
	_, errNode := exec.LookPath("node")
	if errNpm != nil || errNode != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but npm or node is not installed")
		}
		t.Skip("SKIPPING NODE CLIENT TEST: npm or node is not installed")
	}
	sum := sha256.Sum256([]byte(strings.Join(pkgs, "\n")))
	dir, err := filepath.Abs(filepath.Join(npmCache, hex.EncodeToString(sum[:8])))
	if err != nil {
		t.Fatal(err)
	}
	npmMu.Lock()
	defer npmMu.Unlock()
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
		return dir
	}
	// Install beside the cache entry, then rename: an interrupted install
	// leaves no half-filled entry behind.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(`{"private":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "npm", append([]string{"install", "--no-audit", "--no-fund", "--loglevel=error"}, pkgs...)...)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runNode runs script with node in dir (a test's own directory), its
// imports resolved from the packages in modules (npmInstall's directory),
// and returns its standard output. name's extension chooses the module
// kind: .cjs or .mjs.
func runNode(t *testing.T, modules, dir, name, script string, args ...string) string {
	t.Helper()
	link := filepath.Join(dir, "node_modules")
	if _, err := os.Lstat(link); os.IsNotExist(err) {
		if err := os.Symlink(filepath.Join(modules, "node_modules"), link); err != nil {
			t.Fatal(err)
		}
	}
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), "node", append([]string{f}, args...)...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", name, err, stderr.String())
	}
	return string(out)
}
