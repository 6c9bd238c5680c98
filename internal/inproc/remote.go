package inproc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/attune-io/attune/internal/manifest"
)

// SSHOptions set how the remote runners log in and check host keys.
type SSHOptions struct {
	// KnownHosts is the known_hosts file host keys are checked against (and,
	// under HostKeyAccept, learned into).
	KnownHosts string
	// HostKeyPolicy is HostKeyAccept (default), HostKeyStrict or HostKeyOff.
	HostKeyPolicy string
	// User logs in when the action gives no username; empty means the
	// worker's own user.
	User string
	// KeyFile is the private key used when the action gives neither
	// private_key nor password (StackStorm's system_user.ssh_key_file).
	KeyFile string
	// ConnectTimeout bounds each connection and login (default 10s).
	ConnectTimeout time.Duration
	// MaxParallel caps the hosts run at once by a parallel action (default 50).
	MaxParallel int
}

// Host key policies.
const (
	// HostKeyAccept learns the key of a host seen for the first time (with a
	// warning in the log) and refuses a host whose key changed: OpenSSH's
	// StrictHostKeyChecking=accept-new.
	HostKeyAccept = "accept-new"
	// HostKeyStrict refuses any host not already in the known_hosts file.
	HostKeyStrict = "strict"
	// HostKeyOff accepts every key, as StackStorm does (paramiko's
	// AutoAddPolicy); it warns on every connection.
	HostKeyOff = "off"
)

// privateKeyHeader tells key material from a path, as StackStorm does.
const privateKeyHeader = "private key-----"

// sudoBadPassword is sudo's complaint after wrong passwords.
var sudoBadPassword = regexp.MustCompile(`sudo: \d+ incorrect password attempts?`)

// remoteRun is one remote action over its hosts.
type remoteRun struct {
	o       Options
	req     Request
	hosts   []string // as written in the hosts parameter
	keys    []string // result key of each host
	config  *ssh.ClientConfig
	port    int
	bastion string
	timeout time.Duration
	sudo    bool
	sudoPw  string
	command string // cmd runner: the full command line
	script  *remoteScript

	mu             sync.Mutex
	stdout, stderr strings.Builder
}

// remoteScript is what remote-shell-script copies and runs.
type remoteScript struct {
	local, libs string // local paths; libs may not exist
	dir         string // remote directory for this run
	args        string
	env, cwd    string
}

// runRemote is StackStorm's remote-shell-cmd and remote-shell-script: the
// command (or the copied script, with its arguments) runs on every host over
// SSH, in turn or in parallel. The result is keyed by host, each
// {stdout, stderr, return_code, succeeded, failed}; the action SUCCEEDED
// only when every host succeeded, TIMEOUT when every host timed out.
func runRemote(ctx context.Context, o Options, req Request) (Outcome, error) {
	r, err := newRemoteRun(o, req)
	if err != nil {
		return Outcome{}, err
	}
	results := make([]map[string]any, len(r.hosts))
	limit := 1
	if boolean(req.Parameters, "parallel", false) {
		limit = len(r.hosts)/3 + 1
		m := o.SSH.MaxParallel
		if m <= 0 {
			m = 50 // StackStorm's ssh_runner.max_parallel_actions
		}
		limit = min(limit, m)
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, h := range r.hosts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = r.onHost(ctx, h)
		}()
	}
	wg.Wait()
	return r.outcome(results), nil
}

func newRemoteRun(o Options, req Request) (*remoteRun, error) {
	p := req.Parameters
	r := &remoteRun{o: o, req: req, sudo: boolean(p, "sudo", false), sudoPw: str(p, "sudo_password")}
	for _, h := range strings.Split(str(p, "hosts"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			r.hosts = append(r.hosts, h)
		}
	}
	if len(r.hosts) == 0 {
		return nil, prepErr("No hosts specified to run action for execution %d: the hosts parameter is empty", req.ExecutionID)
	}
	r.keys = resultKeys(r.hosts)
	r.port = 22
	if f, ok := number(p["port"]); ok && f > 0 {
		r.port = int(f)
	}
	r.timeout = seconds(p["timeout"], 60*time.Second)
	r.bastion = strings.TrimSpace(str(p, "bastion_host"))

	username := str(p, "username")
	if username == "" {
		username = o.SSH.User
	}
	if username == "" {
		if u, err := user.Current(); err == nil {
			username = u.Username
		}
	}
	auth, err := sshAuth(p, o.SSH.KeyFile)
	if err != nil {
		return nil, err
	}
	hostKeys, err := hostKeyCallback(o.SSH, o)
	if err != nil {
		return nil, err
	}
	timeout := o.SSH.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	r.config = &ssh.ClientConfig{User: username, Auth: auth, HostKeyCallback: hostKeys, Timeout: timeout}

	env := remoteEnv(p, req)
	cwd := str(p, "cwd")
	if cwd == "" {
		cwd = "/tmp"
	}
	switch req.Runner {
	case manifest.St2RemoteShellCmd:
		if req.EntryPoint != "" {
			return nil, prepErr(`Action %q specified "entry_point" attribute. Perhaps wanted to use "remote-shell-script" runner?`, req.ActionRef)
		}
		cmd := str(p, "cmd")
		if cmd == "" {
			return nil, prepErr("the cmd parameter is empty: nothing to run on the remote hosts")
		}
		line := "cd " + cwd + " && " + cmd
		if env != "" {
			line = env + " && " + line
		}
		r.command = r.withSudo(line)
	case manifest.St2RemoteShellScrpt:
		if req.EntryPoint == "" {
			return nil, prepErr(`Action %q is missing "entry_point" attribute. Perhaps wanted to use "remote-shell-cmd" runner?`, req.ActionRef)
		}
		local := filepath.Join(req.PackDir, req.EntryPoint)
		if st, err := os.Stat(local); err != nil || !st.Mode().IsRegular() {
			return nil, prepErr("entry point %s not found in %s", req.EntryPoint, req.PackDir)
		}
		dir := str(p, "dir")
		if dir == "" {
			dir = "/tmp"
		}
		var suffix [4]byte
		_, _ = rand.Read(suffix[:])
		r.script = &remoteScript{
			local: local,
			libs:  filepath.Join(filepath.Dir(local), "lib"),
			dir:   path.Join(dir, fmt.Sprintf("attune-%d-%s", req.ExecutionID, hex.EncodeToString(suffix[:]))),
			args:  scriptArgs(req.Runner, req.Schema, p),
			env:   env,
			cwd:   cwd,
		}
	}
	return r, nil
}

// withSudo wraps a command line as StackStorm does: sudo -E (keep the
// environment) running bash -c. With a sudo password, sudo -S reads it from
// the session's stdin, so it is never part of the command line.
func (r *remoteRun) withSudo(line string) string {
	if !r.sudo {
		return line
	}
	flags := "-E"
	if r.sudoPw != "" {
		flags = "-S -E"
	}
	return "sudo " + flags + " -- bash -c " + shellQuote(line)
}

// remoteEnv is the export prefix of the command: the env parameter and the
// execution's identity, keys sorted, keys and values quoted.
func remoteEnv(p map[string]any, req Request) string {
	env := stringMap(p["env"])
	env["ATTUNE_EXECUTION_ID"] = strconv.Itoa(req.ExecutionID)
	env["ATTUNE_ACTION_REF"] = req.ActionRef
	parts := make([]string, 0, len(env))
	for _, k := range sortedKeys(env) {
		parts = append(parts, shellQuote(k)+"="+shellQuote(env[k]))
	}
	return "export " + strings.Join(parts, " ")
}

// sshAuth is the login: password (also answering keyboard-interactive
// prompts), else private_key (material, or a path on the worker), else the
// worker's key file.
func sshAuth(p map[string]any, keyFile string) ([]ssh.AuthMethod, error) {
	if pw := str(p, "password"); pw != "" {
		answer := func(_, _ string, questions []string, _ []bool) ([]string, error) {
			out := make([]string, len(questions))
			for i := range out {
				out[i] = pw
			}
			return out, nil
		}
		return []ssh.AuthMethod{ssh.Password(pw), ssh.KeyboardInteractive(answer)}, nil
	}
	key, passphrase := str(p, "private_key"), str(p, "passphrase")
	source := "private_key"
	if key != "" && !strings.Contains(strings.ToLower(key), privateKeyHeader) {
		file := key
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, prepErr("private_key is neither key material nor a readable key file on the worker: %v", err)
		}
		key, source = string(b), "private key file "+file
	}
	if key == "" && keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, prepErr("reading worker.ssh.key_file: %v", err)
		}
		key, source = string(b), "worker.ssh.key_file"
	}
	if key == "" {
		return nil, prepErr("Either password or private_key should be supplied for the action, or worker.ssh.key_file set")
	}
	var signer ssh.Signer
	var err error
	if passphrase != "" {
		signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(passphrase))
	} else {
		signer, err = ssh.ParsePrivateKey([]byte(key))
	}
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, prepErr("%s is passphrase protected. Supply a passphrase.", source)
	case err != nil && passphrase != "":
		return nil, prepErr("%s: invalid passphrase or invalid/unsupported key type", source)
	case err != nil:
		return nil, prepErr("%s: invalid or unsupported key type", source)
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signer)}, nil
}

// resultKeys are the result's keys: the host name as StackStorm keys it,
// or the host as written when two entries share a name (several ports of
// one address).
func resultKeys(hosts []string) []string {
	names := make([]string, len(hosts))
	count := map[string]int{}
	for i, h := range hosts {
		names[i], _ = splitHostPort(h, 0)
		count[names[i]]++
	}
	for i, h := range hosts {
		if count[names[i]] > 1 {
			names[i] = h
		}
	}
	return names
}

// splitHostPort splits "host", "host:port", "[v6]:port" or a bare IPv6
// address; port is def when not given.
func splitHostPort(h string, def int) (string, int) {
	if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
		return ip.String(), def
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		return strings.Trim(h, "[]"), def
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return host, def
	}
	return host, n
}

// onHost runs the action on one host and returns its result.
func (r *remoteRun) onHost(ctx context.Context, h string) map[string]any {
	host, port := splitHostPort(h, r.port)
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	client, closeAll, err := r.dial(ctx, addr)
	if err != nil {
		return errorResult(fmt.Sprintf("Connection error. Failed connecting to host %s: %v", addr, err), false, "", "")
	}
	defer closeAll()
	command := r.command
	if s := r.script; s != nil {
		if err := r.copyScript(ctx, client, s); err != nil {
			return errorResult(fmt.Sprintf("Failed copying content to remote boxes. %s: %v", addr, err), false, "", "")
		}
		defer func() {
			// Removed even when the run timed out or was canceled.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_, _, _, _ = r.exec(cctx, client, "rm -rf "+shellQuote(s.dir), nil, 10*time.Second, "", false)
		}()
		script := path.Join(s.dir, path.Base(s.local))
		line := "cd " + shellQuote(s.cwd) + " && " + shellQuote(script)
		if s.args != "" {
			line += " " + s.args
		}
		if s.env != "" {
			line = s.env + " && " + line
		}
		command = r.withSudo(line)
	}
	var stdin io.Reader
	if r.sudo && r.sudoPw != "" {
		stdin = strings.NewReader(r.sudoPw + "\n")
	}
	prefix := ""
	if len(r.hosts) > 1 {
		prefix = h + ": "
	}
	stdout, stderr, code, err := r.exec(ctx, client, command, stdin, r.timeout, prefix, r.sudo && r.sudoPw == "")
	var te *timeoutError
	switch {
	case errors.As(err, &te):
		res := errorResult(fmt.Sprintf("Failed executing command on host %q: %v", h, err), true, stdout, stderr)
		return res
	case err != nil:
		return errorResult(fmt.Sprintf("Failed executing command on host %q: %v", h, err), false, stdout, stderr)
	}
	if r.sudoPw != "" && sudoBadPassword.MatchString(stderr) {
		who := "unknown"
		if m := regexp.MustCompile(`\[sudo\] password for (.+?):`).FindStringSubmatch(stderr); m != nil {
			who = m[1]
		}
		return errorResult(fmt.Sprintf("Invalid sudo password provided or sudo is not configured for this user (%s)", who), false, stdout, stderr)
	}
	return map[string]any{
		"stdout":      decodeJSON(stdout),
		"stderr":      decodeJSON(stderr),
		"return_code": code,
		"succeeded":   code == 0,
		"failed":      code != 0,
	}
}

// errorResult is a host's result when the command did not run to its end,
// in StackStorm's shape.
func errorResult(msg string, timedOut bool, stdout, stderr string) map[string]any {
	code := 255
	if timedOut {
		code = -9
	}
	return map[string]any{
		"failed": true, "succeeded": false, "timeout": timedOut, "return_code": code,
		"stdout": stdout, "stderr": stderr, "error": msg, "traceback": "",
	}
}

// dial connects to addr, through the bastion host when one is set (with the
// same login), and returns the client and what closes everything.
func (r *remoteRun) dial(ctx context.Context, addr string) (*ssh.Client, func(), error) {
	d := net.Dialer{Timeout: r.config.Timeout}
	if r.bastion == "" {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, nil, err
		}
		c, err := handshake(conn, addr, r.config)
		if err != nil {
			return nil, nil, err
		}
		return c, func() { _ = c.Close() }, nil
	}
	bh, bp := splitHostPort(r.bastion, 22)
	baddr := net.JoinHostPort(bh, strconv.Itoa(bp))
	bconn, err := d.DialContext(ctx, "tcp", baddr)
	if err != nil {
		return nil, nil, fmt.Errorf("bastion host %s: %w", baddr, err)
	}
	bastion, err := handshake(bconn, baddr, r.config)
	if err != nil {
		return nil, nil, fmt.Errorf("bastion host %s: %w", baddr, err)
	}
	conn, err := bastion.DialContext(ctx, "tcp", addr)
	if err != nil {
		_ = bastion.Close()
		return nil, nil, fmt.Errorf("through bastion host %s: %w", baddr, err)
	}
	c, err := handshake(conn, addr, r.config)
	if err != nil {
		_ = bastion.Close()
		return nil, nil, err
	}
	return c, func() { _ = c.Close(); _ = bastion.Close() }, nil
}

// handshake logs in over conn, bounded by the connect timeout.
func handshake(conn net.Conn, addr string, config *ssh.ClientConfig) (*ssh.Client, error) {
	_ = conn.SetDeadline(time.Now().Add(config.Timeout))
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, config)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// timeoutError is a command that ran past the runner's timeout.
type timeoutError struct{ after time.Duration }

func (e *timeoutError) Error() string {
	return fmt.Sprintf("Command didn't finish in %s", e.after)
}

// exec runs command in a new session and returns its output (StackStorm's
// trailing newline stripped) and exit status. Output lines go to the run's
// stream, prefixed with the host when there are several.
func (r *remoteRun) exec(ctx context.Context, c *ssh.Client, command string, stdin io.Reader, timeout time.Duration, prefix string, pty bool) (string, string, int, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", "", 0, err
	}
	defer s.Close()
	if pty {
		// As StackStorm: sudo may require a tty; stdout and stderr merge.
		if err := s.RequestPty("xterm", 40, 200, ssh.TerminalModes{ssh.ECHO: 0}); err != nil {
			return "", "", 0, fmt.Errorf("requesting a pty: %w", err)
		}
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	s.Stdin = stdin
	outPipe, err := s.StdoutPipe()
	if err != nil {
		return "", "", 0, err
	}
	errPipe, err := s.StderrPipe()
	if err != nil {
		return "", "", 0, err
	}
	if err := s.Start(command); err != nil {
		return "", "", 0, err
	}
	var out, errOut limitedBuffer
	out.max, errOut.max = r.o.MaxBody, r.o.MaxBody
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.pump(outPipe, &out, "stdout", prefix) }()
	go func() { defer wg.Done(); r.pump(errPipe, &errOut, "stderr", prefix) }()
	done := make(chan error, 1)
	go func() { wg.Wait(); done <- s.Wait() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err = <-done:
	case <-timer.C:
		_ = s.Signal(ssh.SIGKILL)
		_ = s.Close()
		<-done
		return sanitize(out.String(), pty), sanitize(errOut.String(), pty), -9, &timeoutError{after: timeout}
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		_ = s.Close()
		<-done
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The execution's own timeout, often the same runner
			// parameter, ran out first: the host timed out all the same.
			return sanitize(out.String(), pty), sanitize(errOut.String(), pty), -9, &timeoutError{after: timeout}
		}
		return sanitize(out.String(), pty), sanitize(errOut.String(), pty), -9, ctx.Err()
	}
	code := 0
	var ee *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitStatus()
	case errors.As(err, &missing):
		code = -1
	case err != nil:
		return sanitize(out.String(), pty), sanitize(errOut.String(), pty), 0, err
	}
	return sanitize(out.String(), pty), sanitize(errOut.String(), pty), code, nil
}

// pump copies a stream into buf and, line by line, to the run's output.
func (r *remoteRun) pump(rd io.Reader, buf *limitedBuffer, stream, prefix string) {
	br := bufio.NewReader(rd)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			buf.WriteString(line)
			shown := prefix + strings.TrimRight(line, "\r\n")
			r.mu.Lock() // also serializes OnLine across hosts and streams
			if stream == "stdout" {
				r.stdout.WriteString(shown + "\n")
			} else {
				r.stderr.WriteString(shown + "\n")
			}
			if r.req.OnLine != nil {
				r.req.OnLine(stream, shown)
			}
			r.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) WriteString(s string) {
	if room := b.max - b.Len(); room < len(s) {
		if room > 0 {
			b.Buffer.WriteString(s[:room])
		}
		return
	}
	b.Buffer.WriteString(s)
}

// sanitize is StackStorm's: one trailing "\n", then one "\r", removed; a
// pty's "\r\n" become "\n".
func sanitize(s string, pty bool) string {
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	if pty {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	return s
}

// copyScript copies the script (mode 0744) and its lib directory, if any,
// into the run's remote directory. It uses the shell (mkdir, cat, chmod)
// rather than SFTP, so any host that runs commands can take scripts.
func (r *remoteRun) copyScript(ctx context.Context, c *ssh.Client, s *remoteScript) error {
	put := func(local, remote string, mode fs.FileMode) error {
		b, err := os.ReadFile(local)
		if err != nil {
			return err
		}
		cmd := fmt.Sprintf("umask 077 && mkdir -p %s && cat > %s && chmod %o %s",
			shellQuote(path.Dir(remote)), shellQuote(remote), mode.Perm(), shellQuote(remote))
		_, stderr, code, err := r.exec(ctx, c, cmd, bytes.NewReader(b), r.timeout, "", false)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("writing %s: exit status %d: %s", remote, code, stderr)
		}
		return nil
	}
	if err := put(s.local, path.Join(s.dir, path.Base(s.local)), 0o744); err != nil {
		return err
	}
	if st, err := os.Stat(s.libs); err != nil || !st.IsDir() {
		return nil
	}
	var files []string
	err := filepath.WalkDir(s.libs, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		rel, _ := filepath.Rel(filepath.Dir(s.libs), f)
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		if err := put(f, path.Join(s.dir, filepath.ToSlash(rel)), st.Mode()); err != nil {
			return err
		}
	}
	return nil
}

// outcome folds the hosts' results: SUCCEEDED when all succeeded,
// TIMEOUT when all timed out, FAILED otherwise.
func (r *remoteRun) outcome(results []map[string]any) Outcome {
	out := Outcome{Status: Succeeded, Result: map[string]any{}}
	res := out.Result.(map[string]any)
	allTimedOut := true
	var failedHosts []string
	for i, hr := range results {
		res[r.keys[i]] = hr
		if t, _ := hr["timeout"].(bool); !t {
			allTimedOut = false
		}
		if ok, _ := hr["succeeded"].(bool); !ok {
			code, _ := hr["return_code"].(int)
			if out.ExitCode == 0 {
				out.ExitCode = code
				if code == 0 {
					out.ExitCode = 1
				}
			}
			why := fmt.Sprintf("return code %d", code)
			if e, _ := hr["error"].(string); e != "" {
				why = e
			}
			failedHosts = append(failedHosts, fmt.Sprintf("%s (%s)", r.hosts[i], why))
		}
	}
	r.mu.Lock()
	out.Stdout, out.Stderr = r.stdout.String(), r.stderr.String()
	r.mu.Unlock()
	if len(failedHosts) > 0 {
		out.Status = Failed
		if allTimedOut {
			out.Status = TimedOut
		}
		out.Error = fmt.Sprintf("failed on %d of %d hosts: %s", len(failedHosts), len(r.hosts), strings.Join(failedHosts, "; "))
	}
	return out
}
