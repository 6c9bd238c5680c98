package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds of the server harness: generous for a loaded 2-core machine, short
// enough that a hung server fails the run instead of stalling it.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 20 * time.Second
)

// listening matches the log line that announces the bound address.
var listening = regexp.MustCompile(`msg="attune listening" addr=(\S+)`)

// server is one attune process started by the bench.
type server struct {
	cmd  *exec.Cmd
	url  string
	out  *lockedBuffer
	done chan struct{} // closed once the process has exited
}

// serverSpec says how to start a server.
type serverSpec struct {
	bin, dataDir, dbURL, roles string
	// env adds ATTUNE_* settings (authentication is always off: loopback).
	env []string
}

// startServer runs the binary and waits for it to listen. The process dies
// with the bench (parent-death signal) if the bench is killed.
func startServer(ctx context.Context, s serverSpec) (*server, error) {
	roles := s.roles
	if roles == "" {
		roles = "api,worker,sensor,timers"
	}
	cmd := exec.Command(s.bin, "-listen", "127.0.0.1:0", "-data-dir", s.dataDir,
		"-database-url", s.dbURL, "-roles", roles)
	cmd.Env = append(childEnv(), "ATTUNE_AUTH_ENABLED=false", "ATTUNE_GRAPHQL_PLAYGROUND=false")
	cmd.Env = append(cmd.Env, s.env...)
	cmd.SysProcAttr = procAttr()
	out := &lockedBuffer{}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("starting attune: %w", err)
	}
	pw.Close()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			out.add(line)
			if m := listening.FindStringSubmatch(line); m != nil && !sent {
				sent = true
				addr <- m[1]
			}
		}
		pr.Close()
	}()
	srv := &server{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(srv.done)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case a := <-addr:
		srv.url = "http://" + a
		return srv, nil
	case <-srv.done:
		return nil, fmt.Errorf("attune exited before listening:\n%s", out.tail(30))
	case <-timer.C:
		srv.kill()
		return nil, fmt.Errorf("attune did not listen within %s:\n%s", startTimeout, out.tail(30))
	case <-ctx.Done():
		srv.kill()
		return nil, ctx.Err()
	}
}

// childEnv is the bench's environment without ATTUNE_* settings, so a
// developer's configuration cannot change what is measured.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ATTUNE_") {
			env = append(env, kv)
		}
	}
	return env
}

// stop asks the server to shut down and kills it if it has not within
// stopTimeout. Safe to call more than once.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-s.done:
	case <-timer.C:
		s.kill()
	}
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// rss is the server's resident memory in bytes (VmRSS).
func (s *server) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("reading process status: %w", err)
	}
	return vmRSS(b)
}

// vmRSS extracts VmRSS from the text of /proc/<pid>/status.
func vmRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(rest))
			if len(f) != 2 || f[1] != "kB" {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing VmRSS: %w", err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS in process status")
}

// peakRSS samples the server's RSS every interval until ctx ends and
// returns the highest value seen.
func (s *server) peakRSS(ctx context.Context, interval time.Duration) <-chan int64 {
	res := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if v, err := s.rss(); err == nil && v > peak {
				peak = v
			}
			select {
			case <-ctx.Done():
				res <- peak
				return
			case <-t.C:
			}
		}
	}()
	return res
}

// lockedBuffer keeps the last lines a server printed, for error messages.
type lockedBuffer struct {
	mu    sync.Mutex
	lines []string
}

const keptLines = 200

func (b *lockedBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, line)
	if len(b.lines) > 2*keptLines {
		b.lines = append([]string(nil), b.lines[len(b.lines)-keptLines:]...)
	}
}

// matching returns the kept lines holding any of subs.
func (b *lockedBuffer) matching(subs ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range b.lines {
		for _, s := range subs {
			if strings.Contains(l, s) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}

func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	start := max(0, len(b.lines)-n)
	return strings.Join(b.lines[start:], "\n")
}
