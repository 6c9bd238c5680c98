package packenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildPython creates a virtualenv at s.EnvDir (replacing any existing one)
// and installs the pack's requirements.txt into it, offline from the pack's
// wheels/ directory when it has one. The venv is created without pip (0.2 s
// instead of 7 s); the base interpreter's pip installs into it with
// --python. On failure EnvDir is removed and the error ends with the tool's
// last output lines.
func BuildPython(ctx context.Context, s Spec) (Status, error) {
	s, err := s.withDefaults()
	if err != nil {
		return Status{}, err
	}
	if s.EnvDir == "" {
		return Status{}, errors.New("python environment directory not set")
	}
	if s.EnvDir, err = filepath.Abs(s.EnvDir); err != nil {
		return Status{}, fmt.Errorf("resolving environment directory: %w", err)
	}
	// RemoveAll below must never reach the pack itself.
	if rel, err := filepath.Rel(s.EnvDir, s.PackDir); err == nil && filepath.IsLocal(rel) {
		return Status{}, fmt.Errorf("environment directory %s contains the pack directory", s.EnvDir)
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if err := os.RemoveAll(s.EnvDir); err != nil {
		return Status{}, fmt.Errorf("removing old environment: %w", err)
	}
	if err := s.installPython(ctx); err != nil {
		_ = os.RemoveAll(s.EnvDir)
		return Status{}, fmt.Errorf("building python environment %s: %w", s.EnvDir, err)
	}
	return s.status(KindPython, s.EnvDir)
}

func (s Spec) installPython(ctx context.Context) error {
	if s.Sandbox.Enabled() {
		// The build may write only the env: it is made here, lent to the
		// build user and taken back once built.
		if err := os.Mkdir(s.EnvDir, 0o755); err != nil {
			return fmt.Errorf("creating environment directory: %w", err)
		}
		if err := s.handOver(s.EnvDir); err != nil {
			return err
		}
	}
	if err := s.build(ctx); err != nil {
		return err
	}
	return s.takeBack(s.EnvDir)
}

func (s Spec) build(ctx context.Context) error {
	env := []string{s.EnvDir}
	if err := s.run(ctx, s.PackDir, env, s.Python, "-m", "venv", "--without-pip", s.EnvDir); err != nil {
		return err
	}
	requirements := filepath.Join(s.PackDir, "requirements.txt")
	if _, err := os.Stat(requirements); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	args := []string{
		"-m", "pip", "--python", filepath.Join(s.EnvDir, "bin", "python"),
		"install", "--disable-pip-version-check", "--no-input", "-r", requirements,
	}
	wheels := filepath.Join(s.PackDir, "wheels")
	if st, err := os.Stat(wheels); err == nil && st.IsDir() {
		args = append(args, "--no-index", "--find-links", wheels)
	}
	return s.run(ctx, s.PackDir, env, s.Python, args...)
}

// Verify checks that the venv at envDir is usable where it is: pyvenv.cfg
// exists, bin/python runs and reports envDir as sys.prefix, and no script in
// bin/ has a python shebang pointing elsewhere (the sign of a moved venv).
func Verify(ctx context.Context, envDir string) error {
	return Spec{}.Verify(ctx, envDir)
}

// Verify is the package's Verify with s's sandbox: the environment's
// interpreter runs confined like a build, since whatever the pack
// installed (a .pth file) runs at every start of it.
func (s Spec) Verify(ctx context.Context, envDir string) error {
	if _, err := os.Stat(filepath.Join(envDir, "pyvenv.cfg")); err != nil {
		return fmt.Errorf("checking virtualenv: %w", err)
	}
	python := filepath.Join(envDir, "bin", "python")
	var out string
	if s.Sandbox.Enabled() {
		var lines []string
		s.Log = func(line string) { lines = append(lines, line) }
		if s.PackDir == "" {
			s.PackDir = envDir
		}
		if err := s.run(ctx, envDir, nil, python, "-c", "import sys; print(sys.prefix)"); err != nil {
			return err
		}
		if len(lines) > 0 {
			out = lines[len(lines)-1]
		}
	} else {
		b, err := exec.CommandContext(ctx, python, "-c", "import sys; print(sys.prefix)").Output()
		if err != nil {
			return fmt.Errorf("running %s: %w", python, err)
		}
		out = string(b)
	}
	if prefix := strings.TrimSpace(out); !samePath(prefix, envDir) {
		return fmt.Errorf("virtualenv %s reports sys.prefix %s", envDir, prefix)
	}
	return checkShebangs(filepath.Join(envDir, "bin"))
}

// checkShebangs reports scripts in binDir whose python interpreter lies
// outside binDir.
func checkShebangs(binDir string) error {
	entries, err := os.ReadDir(binDir)
	if err != nil {
		return fmt.Errorf("listing scripts: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		interp, err := shebang(filepath.Join(binDir, e.Name()))
		if err != nil {
			return err
		}
		if strings.HasPrefix(filepath.Base(interp), "python") && !samePath(filepath.Dir(interp), binDir) {
			return fmt.Errorf("script %s runs %s, outside the environment: it was moved; rebuild it in place",
				e.Name(), interp)
		}
	}
	return nil
}

// shebang returns the interpreter named on a script's "#!" line, or "".
func shebang(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading script: %w", err)
	}
	defer func() { _ = f.Close() }()
	line, _ := bufio.NewReader(f).ReadString('\n')
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if !strings.HasPrefix(line, "#!") || len(fields) == 0 {
		return "", nil
	}
	return fields[0], nil
}

// samePath compares two paths after resolving symlinks in either.
func samePath(a, b string) bool {
	resolve := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return r
		}
		return filepath.Clean(p)
	}
	return resolve(a) == resolve(b)
}
