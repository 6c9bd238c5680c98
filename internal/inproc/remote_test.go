package inproc

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/sshtest"
)

func TestShellQuoteIsShlexQuote(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":        "''",
		"abc":     "abc",
		"a b":     "'a b'",
		"it's":    `'it'"'"'s'`,
		"--x=1,2": "--x=1,2",
		"$HOME":   "'$HOME'",
	} {
		require.Equal(t, want, shellQuote(in), in)
	}
}

func TestScriptArgs(t *testing.T) {
	t.Parallel()
	pos := func(n int) *int { return &n }
	schema := param.Schema{
		"first":  {Type: param.TypeString, Position: pos(0)},
		"flag":   {Type: param.TypeBoolean, Position: pos(1)},
		"list":   {Type: param.TypeArray, Position: pos(2)},
		"name":   {Type: param.TypeString},
		"count":  {Type: param.TypeInteger},
		"debug":  {Type: param.TypeBoolean},
		"quiet":  {Type: param.TypeBoolean},
		"empty":  {Type: param.TypeString},
		"hosts":  {Type: param.TypeString}, // a runner parameter
		"absent": {Type: param.TypeString, Position: pos(3)},
	}
	got := scriptArgs("remote-shell-script", schema, map[string]any{
		"first": "a b", "flag": false, "list": []any{"x", "y"}, "name": "it's", "count": float64(3),
		"debug": true, "quiet": false, "empty": "", "hosts": "h1", "kwarg_op": "-",
	})
	require.Equal(t, `-count=3 -debug -name='it'"'"'s' 'a b' 0 x,y ''`, got)
}

// sshWorld is a remote runner's world: an SSH server and the worker's options.
type sshWorld struct {
	srv    *sshtest.Server
	key    string
	opts   Options
	hosts  string
	known  string
	pubKey ssh.PublicKey
}

func newSSHWorld(t *testing.T) *sshWorld {
	t.Helper()
	key, pub := sshtest.NewClientKey(t)
	srv := sshtest.Start(t, sshtest.Options{AuthorizedKey: pub, Password: "secret-pw"})
	known := filepath.Join(t.TempDir(), "ssh", "known_hosts")
	return &sshWorld{srv: srv, key: key, pubKey: pub, known: known, hosts: srv.Addr,
		opts: Options{SSH: SSHOptions{KnownHosts: known}}}
}

func (e *sshWorld) run(t *testing.T, runner string, params map[string]any) (Outcome, error) {
	t.Helper()
	if _, ok := params["hosts"]; !ok {
		params["hosts"] = e.hosts
	}
	if _, ok := params["password"]; !ok {
		if _, ok := params["private_key"]; !ok {
			params["private_key"] = e.key
		}
	}
	return Run(t.Context(), e.opts, Request{Runner: runner, ExecutionID: 7, ActionRef: "t.remote", Parameters: params})
}

func TestRemoteCommand(t *testing.T) {
	t.Parallel()
	t.Run("runs in cwd with env, result keyed by host", func(t *testing.T) {
		t.Parallel()
		e := newSSHWorld(t)
		out, err := e.run(t, "remote-shell-cmd", map[string]any{
			"cmd": `pwd; echo "$GREETING"; echo oops >&2`, "cwd": "/", "env": map[string]any{"GREETING": "hello there"}})
		require.NoError(t, err)
		require.Equal(t, Succeeded, out.Status, "%+v", out)
		res := out.Result.(map[string]any)
		require.Equal(t, map[string]any{"stdout": "/\nhello there", "stderr": "oops", "return_code": 0, "succeeded": true, "failed": false},
			res["127.0.0.1"])
		require.Equal(t, "/\nhello there\n", out.Stdout)
		require.Contains(t, e.srv.Commands()[0], "export ATTUNE_ACTION_REF=t.remote ATTUNE_EXECUTION_ID=7 GREETING='hello there' && cd / && ")
		// accept-new learned the host's key.
		b, err := os.ReadFile(e.known)
		require.NoError(t, err)
		require.Contains(t, string(b), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(e.srv.HostKey))))
	})
	t.Run("JSON stdout is decoded; a failing host fails the action", func(t *testing.T) {
		t.Parallel()
		e := newSSHWorld(t)
		other := sshtest.Start(t, sshtest.Options{AuthorizedKey: e.pubKey})
		e.hosts = e.srv.Addr + "," + other.Addr
		out, err := e.run(t, "remote-shell-cmd", map[string]any{"cmd": `echo '{"a": 1}'`, "parallel": true})
		require.NoError(t, err)
		require.Equal(t, Succeeded, out.Status, "%+v", out)
		res := out.Result.(map[string]any)
		require.Len(t, res, 2)
		for _, h := range []string{e.srv.Addr, other.Addr} {
			require.Equal(t, map[string]any{"a": json.Number("1")}, res[h].(map[string]any)["stdout"], h)
		}
		require.Contains(t, out.Stdout, e.srv.Addr+`: {"a": 1}`)

		out, err = e.run(t, "remote-shell-cmd", map[string]any{"cmd": "echo no; exit 3"})
		require.NoError(t, err)
		require.Equal(t, Failed, out.Status)
		require.Equal(t, 3, out.ExitCode)
		require.Contains(t, out.Error, "return code 3")
		require.Equal(t, 3, out.Result.(map[string]any)[e.srv.Addr].(map[string]any)["return_code"])
	})
	t.Run("password login and sudo", func(t *testing.T) {
		t.Parallel()
		e := newSSHWorld(t)
		bin := sudoStandIn(t)
		e.srv.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
		out, err := e.run(t, "remote-shell-cmd", map[string]any{"cmd": "id -u", "password": "secret-pw", "sudo": true, "sudo_password": "sudo-pw"})
		require.NoError(t, err)
		require.Equal(t, Succeeded, out.Status, "%+v", out)
		cmd := e.srv.Commands()[0]
		require.True(t, strings.HasPrefix(cmd, "sudo -S -E -- bash -c '"), cmd)
		require.NotContains(t, cmd, "sudo-pw", "the sudo password travels on stdin, never in the command line")
		require.Equal(t, "flags: -S -E -- stdin: sudo-pw", strings.Split(out.Result.(map[string]any)["127.0.0.1"].(map[string]any)["stderr"].(string), "\n")[0])
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		e := newSSHWorld(t)
		start := time.Now()
		out, err := e.run(t, "remote-shell-cmd", map[string]any{"cmd": "echo started; sleep 30", "timeout": 1})
		require.NoError(t, err)
		require.Less(t, time.Since(start), 15*time.Second)
		require.Equal(t, TimedOut, out.Status, "%+v", out)
		hr := out.Result.(map[string]any)["127.0.0.1"].(map[string]any)
		require.Equal(t, true, hr["timeout"])
		require.Equal(t, -9, hr["return_code"])
		require.Equal(t, "started", hr["stdout"])
	})
	t.Run("bastion host", func(t *testing.T) {
		t.Parallel()
		e := newSSHWorld(t)
		bastion := sshtest.Start(t, sshtest.Options{AuthorizedKey: e.pubKey})
		out, err := e.run(t, "remote-shell-cmd", map[string]any{"cmd": "echo via", "bastion_host": bastion.Addr})
		require.NoError(t, err)
		require.Equal(t, Succeeded, out.Status, "%+v", out)
		require.Equal(t, []string{e.srv.Addr}, bastion.Forwarded())
		require.Empty(t, bastion.Commands())
	})
	t.Run("a changed host key is refused", func(t *testing.T) {
		t.Parallel()
		e := newSSHWorld(t)
		require.NoError(t, os.MkdirAll(filepath.Dir(e.known), 0o700))
		_, otherKey := sshtest.NewClientKey(t)
		line := "[127.0.0.1]:" + strings.TrimPrefix(e.srv.Addr, "127.0.0.1:") + " " + string(ssh.MarshalAuthorizedKey(otherKey))
		require.NoError(t, os.WriteFile(e.known, []byte(line), 0o600))
		out, err := e.run(t, "remote-shell-cmd", map[string]any{"cmd": "echo never"})
		require.NoError(t, err)
		require.Equal(t, Failed, out.Status)
		require.Contains(t, out.Error, "host key of")
		require.Contains(t, out.Error, "changed")
		require.Empty(t, e.srv.Commands())
	})
	t.Run("strict refuses an unknown host", func(t *testing.T) {
		t.Parallel()
		e := newSSHWorld(t)
		e.opts.SSH.HostKeyPolicy = HostKeyStrict
		out, err := e.run(t, "remote-shell-cmd", map[string]any{"cmd": "echo never"})
		require.NoError(t, err)
		require.Equal(t, Failed, out.Status)
		require.Contains(t, out.Error, "strict")
	})
	t.Run("no credentials and no hosts do not start", func(t *testing.T) {
		t.Parallel()
		e := newSSHWorld(t)
		_, err := Run(t.Context(), e.opts, Request{Runner: "remote-shell-cmd", Parameters: map[string]any{"hosts": e.hosts, "cmd": "true"}})
		var pe *PrepareError
		require.ErrorAs(t, err, &pe)
		require.Contains(t, pe.Cause, "Either password or private_key")
		_, err = e.run(t, "remote-shell-cmd", map[string]any{"hosts": " , ", "cmd": "true"})
		require.ErrorAs(t, err, &pe)
		require.Contains(t, pe.Cause, "No hosts")
	})
}

func TestRemoteScript(t *testing.T) {
	t.Parallel()
	e := newSSHWorld(t)
	pack := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(pack, "actions", "lib"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(pack, "actions", "greet.sh"),
		[]byte("#!/bin/sh\n. \"$(dirname \"$0\")/lib/common.sh\"\necho \"$PREFIX $*\"\necho \"cwd=$(pwd)\"\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(pack, "actions", "lib", "common.sh"), []byte("PREFIX=hi\n"), 0o644))
	pos := 0
	schema := param.Schema{"who": {Type: param.TypeString, Position: &pos}, "loud": {Type: param.TypeBoolean}}
	dir := t.TempDir()
	out, err := Run(t.Context(), e.opts, Request{
		Runner: "remote-shell-script", ExecutionID: 9, ActionRef: "t.greet", PackDir: pack, EntryPoint: "actions/greet.sh", Schema: schema,
		Parameters: map[string]any{"hosts": e.hosts, "private_key": e.key, "who": "StackStorm fans", "loud": true, "dir": dir, "cwd": "/"},
	})
	require.NoError(t, err)
	require.Equal(t, Succeeded, out.Status, "%+v", out)
	require.Equal(t, "hi --loud StackStorm fans\ncwd=/", out.Result.(map[string]any)["127.0.0.1"].(map[string]any)["stdout"])
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "the remote copy is removed after the run")
}

// sudoStandIn is a directory with a `sudo` for the test host, which has
// none: it reports its flags and the password it read on stdin, then runs
// the command, as sudo does for root.
func sudoStandIn(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	script := `#!/bin/sh
flags=""
while [ "$1" != "--" ]; do flags="$flags $1"; shift; done
shift
read -r pw
echo "flags:$flags -- stdin: $pw" >&2
exec "$@"
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sudo"), []byte(script), 0o755))
	return dir
}
