package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/attune-io/attune/internal/sandbox"
)

// plan is a fully checked command, ready to start.
type plan struct {
	argv []string // argv[0] is an absolute path
	dir  string   // the working directory
	// runDir is the run's private directory (sandboxed runs), removed with
	// everything in it after the run.
	runDir string
	owner  *[2]int // uid, gid of the files written for a sandboxed run
	policy sandbox.Policy
	env    map[string]string // the complete child environment
	stdin  []byte            // nil: stdin is /dev/null
	files  []string          // temp files to remove after the run
}

func prepareErrorf(format string, args ...any) *PrepareError {
	return &PrepareError{Cause: fmt.Sprintf(format, args...)}
}

// prepare checks everything that can be checked before starting and writes
// the temp files the run needs; on error nothing is left behind.
func prepare(req Request) (_ *plan, err error) {
	p := &plan{}
	defer func() {
		if err != nil {
			p.removeFiles()
		}
	}()
	packDir, err := filepath.Abs(req.PackDir)
	if err != nil {
		return nil, fmt.Errorf("resolving pack directory: %w", err)
	}
	if st, statErr := os.Stat(packDir); statErr != nil || !st.IsDir() {
		return nil, prepareErrorf("pack directory %s is missing", packDir)
	}
	// The child runs in packDir: the files written for it, and its HOME,
	// must not be named relative to the worker's working directory.
	if req.TempDir != "" {
		if req.TempDir, err = filepath.Abs(req.TempDir); err != nil {
			return nil, fmt.Errorf("resolving temp directory: %w", err)
		}
	}
	params := req.Parameters
	if params == nil {
		params = map[string]any{}
	}
	paramJSON, err := json.Marshal(params)
	if err != nil {
		return nil, prepareErrorf("encoding parameters: %v", err)
	}
	home := req.TempDir
	if home == "" {
		home = packDir
	}
	if req.Sandbox.Enabled() {
		if err := p.privateDir(req); err != nil {
			return nil, err
		}
		home, req.TempDir = p.runDir, p.runDir
	}
	p.env = map[string]string{"PATH": DefaultPath, "HOME": home, "LANG": "C.UTF-8"}
	if p.runDir != "" {
		p.env["TMPDIR"] = p.runDir
	}
	maps.Copy(p.env, req.Env)
	if err := p.command(req, packDir, params); err != nil {
		return nil, err
	}
	if p.runDir != "" {
		p.policy = sandbox.Policy{
			ReadOnly:  append([]string{packDir}, req.ReadOnly...),
			ReadWrite: []string{p.runDir},
		}
		// The interpreter's installation; never for a native entry point,
		// whose "installation" would be the packs directory, or wherever
		// a symlink in the pack points.
		if req.Runner == Shell || req.Runner == Python || req.Runner == Node || req.Runner == Script {
			p.policy.ReadOnly = append(p.policy.ReadOnly, sandbox.Installation(p.argv[0])...)
		}
	}
	if p.dir, err = workDir(packDir, req.Dir); err != nil {
		return nil, err
	}
	if req.Sudo && req.Sandbox.Enabled() {
		return nil, prepareErrorf("sudo is refused: actions run confined (worker.isolation), and sudo would undo that; run privileged actions on a worker with worker.isolation: off")
	}
	if req.Sudo {
		if p.argv, err = sudoCommand(p.argv, req.Runner, req.SudoPassword, os.Geteuid(), p.env["PATH"]); err != nil {
			return nil, err
		}
		if req.SudoPassword != "" {
			p.stdin = []byte(req.SudoPassword + "\n")
		}
	}
	switch req.Delivery {
	case DeliveryNone:
	case DeliveryStdin:
		if req.Sudo && req.SudoPassword != "" {
			return nil, prepareErrorf("sudo_password needs the parameters off stdin, where sudo reads the password")
		}
		p.stdin = append(paramJSON, '\n')
	case DeliveryFile:
		path, err := p.writeTemp(req.TempDir, "attune-params-*.json", paramJSON, 0o400)
		if err != nil {
			return nil, err
		}
		p.env[ParametersFileEnv] = path
	default:
		return nil, prepareErrorf("unknown parameter delivery %q", req.Delivery)
	}
	return p, nil
}

// privateDir makes the run's own directory under req.TempDir, owned by the
// user the sandbox runs it as and closed to everyone else.
func (p *plan) privateDir(req Request) error {
	dir, err := os.MkdirTemp(req.TempDir, "run-*")
	if err != nil {
		return fmt.Errorf("creating the run's temp dir: %w", err)
	}
	p.runDir = dir
	if uid, gid, ok := req.Sandbox.Owner(); ok {
		p.owner = &[2]int{uid, gid}
		if err := os.Chown(dir, uid, gid); err != nil {
			return fmt.Errorf("handing the run's temp dir to the action user: %w", err)
		}
	}
	return nil
}

// command resolves the interpreter and entry point of req's runner into p.argv.
func (p *plan) command(req Request, packDir string, params map[string]any) error {
	switch req.Runner {
	case Shell, Node:
		name := req.Interpreter
		if name == "" {
			name = map[string]string{Shell: "bash", Node: "node"}[req.Runner]
		}
		interp, ok := findProgram(name, p.env["PATH"])
		if !ok {
			return prepareErrorf("%s interpreter %s not found (PATH %s)", req.Runner, name, p.env["PATH"])
		}
		entry, err := entryPoint(packDir, req.EntryPoint, false)
		p.argv = []string{interp, entry}
		return err
	case Python:
		if req.Interpreter == "" {
			return prepareErrorf("python interpreter not configured")
		}
		interp, ok := findProgram(req.Interpreter, p.env["PATH"])
		if !ok {
			return prepareErrorf("python environment missing at %s", req.Interpreter)
		}
		if strings.Contains(req.Interpreter, "/") {
			p.env["PATH"] = filepath.Dir(interp) + string(filepath.ListSeparator) + p.env["PATH"]
		}
		p.env["PYTHONUNBUFFERED"] = "1"
		entry, err := entryPoint(packDir, req.EntryPoint, false)
		p.argv = []string{interp, "-u", "-c", pythonBootstrap, entry}
		if req.Wrapper != "" {
			if st, statErr := os.Stat(req.Wrapper); statErr != nil || !st.Mode().IsRegular() {
				return prepareErrorf("python wrapper %s is missing", req.Wrapper)
			}
			p.argv = []string{interp, "-u", "-c", pythonBootstrap, req.Wrapper, entry}
		}
		return err
	case Native:
		entry, err := entryPoint(packDir, req.EntryPoint, true)
		p.argv = []string{entry}
		return err
	case Script:
		entry, err := entryPoint(packDir, req.EntryPoint, false)
		if err != nil {
			return err
		}
		argv, err := scriptCommand(entry, p.env["PATH"])
		p.argv = append(argv, req.Args...)
		return err
	case Local:
		cmd, _ := params["cmd"].(string)
		if strings.TrimSpace(cmd) == "" {
			return prepareErrorf(`local runner needs a non-empty string parameter "cmd"`)
		}
		script, err := p.writeTemp(req.TempDir, "attune-local-*.sh", []byte(cmd), 0o700)
		p.argv = []string{"/bin/sh", script}
		return err
	default:
		return prepareErrorf("unknown runner %q", req.Runner)
	}
}

// scriptCommand is how a script runs when StackStorm's local-shell-script
// runner starts it with /bin/sh -c: the kernel reads its #! line; a script
// without one is run by the shell itself; a binary is executed. Reading the
// #! line here rather than executing the file means a pack file need not be
// executable (StackStorm chmods it, attune leaves the pack's files alone).
func scriptCommand(entry, pathList string) ([]string, error) {
	f, err := os.Open(entry)
	if err != nil {
		return nil, prepareErrorf("opening entry point: %v", err)
	}
	defer f.Close()
	head := make([]byte, 256)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("#!")):
		line, _, _ := bytes.Cut(head[2:], []byte("\n"))
		interp, arg := strings.TrimSpace(string(line)), ""
		if i := strings.IndexAny(interp, " \t"); i >= 0 {
			interp, arg = interp[:i], interp[i:]
		}
		if interp == "" {
			return nil, prepareErrorf("entry point %s has an empty #! line", filepath.Base(entry))
		}
		path, ok := findProgram(interp, pathList)
		if !ok {
			return nil, prepareErrorf("interpreter %s of %s not found", interp, filepath.Base(entry))
		}
		argv := []string{path}
		if arg = strings.TrimSpace(arg); arg != "" {
			argv = append(argv, arg) // the kernel passes the rest of the line as one argument
		}
		return append(argv, entry), nil
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		if !isExecutable(entry) {
			return nil, prepareErrorf("entry point %s is a binary that is not executable", filepath.Base(entry))
		}
		return []string{entry}, nil
	}
	return []string{"/bin/sh", entry}, nil
}

// workDir resolves the run's working directory: dir (relative to the
// pack) when set, else the pack directory.
func workDir(packDir, dir string) (string, error) {
	if dir == "" {
		return packDir, nil
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(packDir, dir)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", prepareErrorf("working directory %s (cwd) does not exist", dir)
	}
	return dir, nil
}

// sudoCommand prefixes argv with sudo as StackStorm's local runner does
// (sudo -E, keeping the environment; -S with the password on stdin), and
// runs a Local command with bash as StackStorm's sudo path does. Sudo
// makes the command run as root; a worker that already runs as root
// without sudo installed runs it directly, which is the same. A worker
// that is not root and has no sudo fails before starting.
func sudoCommand(argv []string, runner, password string, euid int, pathList string) ([]string, error) {
	if runner == Local {
		bash, ok := findProgram("bash", pathList)
		if !ok {
			return nil, prepareErrorf("sudo runs commands with bash, which is not installed (PATH %s)", pathList)
		}
		argv = append([]string{bash}, argv[1:]...)
	}
	sudo, ok := findProgram("sudo", pathList)
	switch {
	case !ok && euid == 0:
		return argv, nil
	case !ok:
		return nil, prepareErrorf("sudo was requested (sudo: true) but sudo is not installed on this worker (PATH %s), which does not run as root", pathList)
	}
	flags := []string{sudo, "-E", "-n"}
	if password != "" {
		flags = []string{sudo, "-S", "-E"}
	}
	return append(append(flags, "--"), argv...), nil
}

// pythonBootstrap runs the script named by its first argument as __main__,
// with the script's directory at the end of sys.path instead of the front,
// as StackStorm's loader does: an action file named like a standard module
// (core's http.py) must not shadow it, for the action itself or for the
// libraries it imports, while sibling modules and actions/lib stay
// importable. Python puts "" (the working directory, the pack) first under
// -c; it goes before anything is imported. PYTHONPATH (the pack's lib/)
// keeps its place. Works on every Python 3, unlike -P (3.11).
const pythonBootstrap = `import sys
del sys.path[0]
import os, runpy
script = sys.argv[1]
sys.argv = sys.argv[1:]
here = os.path.dirname(script)
sys.path = [p for p in sys.path if p not in ("", here)] + [here]
runpy.run_path(script, run_name="__main__")
`

// entryPoint returns the absolute path of rel inside packDir after checking
// that it is a regular file (and executable when native).
func entryPoint(packDir, rel string, native bool) (string, error) {
	if rel == "" {
		return "", prepareErrorf("entry point not set")
	}
	if !filepath.IsLocal(rel) {
		return "", prepareErrorf("entry point %s escapes the pack directory", rel)
	}
	path := filepath.Join(packDir, rel)
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return "", prepareErrorf("entry point %s not found in %s", rel, packDir)
	case st.IsDir():
		return "", prepareErrorf("entry point %s is a directory", rel)
	case !st.Mode().IsRegular():
		return "", prepareErrorf("entry point %s is not a regular file", rel)
	case native && st.Mode().Perm()&0o111 == 0:
		return "", prepareErrorf("entry point %s is not executable", rel)
	}
	return path, nil
}

// findProgram resolves name like a shell would with pathList as PATH, so the
// program found is the one the child's own environment would find.
func findProgram(name, pathList string) (string, bool) {
	if strings.Contains(name, "/") {
		abs, err := filepath.Abs(name)
		return abs, err == nil && isExecutable(abs)
	}
	for _, dir := range filepath.SplitList(pathList) {
		if path := filepath.Join(dir, name); dir != "" && isExecutable(path) {
			return path, true
		}
	}
	return "", false
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// writeTemp writes data to a new file in dir with the given mode and
// registers it for removal.
func (p *plan) writeTemp(dir, pattern string, data []byte, mode os.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", fmt.Errorf("creating temp file: %w", err)
	}
	p.files = append(p.files, f.Name())
	if p.owner != nil {
		err = f.Chown(p.owner[0], p.owner[1])
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Chmod(f.Name(), mode)
	}
	if err != nil {
		return "", fmt.Errorf("writing temp file: %w", err)
	}
	return f.Name(), nil
}

func (p *plan) removeFiles() {
	for _, f := range p.files {
		_ = os.Remove(f)
	}
	if p.runDir != "" {
		_ = os.RemoveAll(p.runDir)
	}
}

// environ renders env as a sorted KEY=value list.
func (p *plan) environ() []string {
	env := make([]string, 0, len(p.env))
	for _, k := range slices.Sorted(maps.Keys(p.env)) {
		env = append(env, k+"="+p.env[k])
	}
	return env
}
