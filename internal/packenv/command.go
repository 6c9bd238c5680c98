package packenv

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/attune-io/attune/internal/sandbox"
)

const (
	// errorTailLines is how much of a failed tool's output an error carries.
	errorTailLines = 20
	// maxLineBytes flushes a line that never ends (progress bars, binaries).
	maxLineBytes = 4 << 10
	// waitDelay bounds Wait when a killed tool's descendants hold its output.
	waitDelay = 5 * time.Second
)

// run executes name with args in dir, with the server's environment (so pip
// and npm keep their configuration), streaming output lines to log. On
// failure the error carries the last errorTailLines lines of output.
// Cancellation kills the tool's whole process group. With s.Sandbox the
// tool is confined and may write only writable (see Spec.Sandbox).
func (s Spec) run(ctx context.Context, dir string, writable []string, name string, args ...string) error {
	out := &tailWriter{log: s.Log}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	argv := strings.Join(cmd.Args, " ")
	policy, cleanup, err := s.confine(cmd, writable)
	if err != nil {
		return err
	}
	defer cleanup()
	started, err := s.Sandbox.Start(cmd, policy)
	if err == nil {
		err = cmd.Wait()
		started.Release()
	}
	out.flush()
	if err != nil {
		return fmt.Errorf("running %s: %w\n%s", argv, err, strings.Join(out.tail, "\n"))
	}
	return nil
}

// confine prepares cmd for the sandbox: its program resolved, a private
// HOME and TMPDIR, and the paths it may read and write. Without a sandbox
// it changes nothing.
func (s Spec) confine(cmd *exec.Cmd, writable []string) (sandbox.Policy, func(), error) {
	if !s.Sandbox.Enabled() {
		return sandbox.Policy{}, func() {}, nil
	}
	if cmd.Err != nil {
		return sandbox.Policy{}, nil, cmd.Err
	}
	if err := os.MkdirAll(s.TempDir, 0o711); err != nil {
		return sandbox.Policy{}, nil, fmt.Errorf("creating build temp dir: %w", err)
	}
	home, err := os.MkdirTemp(s.TempDir, "build-*")
	if err != nil {
		return sandbox.Policy{}, nil, fmt.Errorf("creating build temp dir: %w", err)
	}
	cleanup := func() { _ = os.RemoveAll(home) }
	if err := s.handOver(home); err != nil {
		cleanup()
		return sandbox.Policy{}, nil, err
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && !sandbox.SecretVar(k) {
			env[k] = v
		}
	}
	env["HOME"], env["TMPDIR"] = home, home
	cmd.Env = cmd.Env[:0]
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return sandbox.Policy{
		ReadOnly:  append([]string{s.PackDir}, sandbox.Installation(cmd.Path)...),
		ReadWrite: append([]string{home}, writable...),
	}, cleanup, nil
}

// handOver gives dir (recursively) to the sandbox's user for a build.
func (s Spec) handOver(dir string) error {
	if uid, gid, ok := s.Sandbox.Owner(); ok {
		if err := chownAll(dir, uid, gid); err != nil {
			return fmt.Errorf("handing %s to the build user: %w", dir, err)
		}
	}
	return nil
}

// takeBack gives dir (recursively) back to the server's user after a
// build, so that no action may change what was built.
func (s Spec) takeBack(dir string) error {
	if _, _, ok := s.Sandbox.Owner(); ok {
		if err := chownAll(dir, os.Getuid(), os.Getgid()); err != nil {
			return fmt.Errorf("taking %s back from the build user: %w", dir, err)
		}
	}
	return nil
}

// chownAll changes the owner of dir and everything in it, never following
// symlinks.
func chownAll(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

// tailWriter splits output into lines, forwards them to log and keeps the
// last errorTailLines of them.
type tailWriter struct {
	log     func(string)
	partial []byte
	tail    []string
}

// Write implements io.Writer; it never fails.
func (w *tailWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.line(w.partial[:i])
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) > maxLineBytes {
		w.flush()
	}
	return len(p), nil
}

// flush emits a pending unterminated line.
func (w *tailWriter) flush() {
	if len(w.partial) > 0 {
		w.line(w.partial)
		w.partial = nil
	}
}

func (w *tailWriter) line(b []byte) {
	s := strings.TrimRight(string(b), "\r")
	if w.log != nil {
		w.log(s)
	}
	w.tail = append(w.tail, s)
	if len(w.tail) > errorTailLines {
		w.tail = w.tail[1:]
	}
}
