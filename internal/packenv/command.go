package packenv

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
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
// Cancellation kills the tool's whole process group.
func run(ctx context.Context, log func(string), dir, name string, args ...string) error {
	out := &tailWriter{log: log}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	out.flush()
	if err != nil {
		return fmt.Errorf("running %s: %w\n%s", strings.Join(cmd.Args, " "), err, strings.Join(out.tail, "\n"))
	}
	return nil
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
