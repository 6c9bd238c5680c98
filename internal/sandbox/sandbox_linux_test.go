package sandbox_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.Launch(os.Args)
	os.Exit(m.Run())
}

// run starts script with sh through sb confined to p and returns its
// output and exit code.
func run(t *testing.T, sb *sandbox.Sandbox, p sandbox.Policy, script string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := &exec.Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Stdout: &out, Stderr: &out,
		Env: []string{"PATH=/usr/bin:/bin"}}
	c, err := sb.Start(cmd, p)
	require.NoError(t, err)
	_ = c.Wait()
	c.Release()
	return out.String(), cmd.ProcessState.ExitCode()
}

// TestSandboxConfines: a sandboxed shell reads system paths and its
// read-only paths, writes only its read-write paths, sees none of the
// server's processes, and cannot signal the server.
func TestSandboxConfines(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{})
	require.NoError(t, err)
	st := sb.Status()
	t.Logf("status: %+v", st)
	root := t.TempDir()
	require.NoError(t, os.Chmod(root, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(root), 0o755))
	ro, rw, secret := filepath.Join(root, "ro"), filepath.Join(root, "rw"), filepath.Join(root, "secret")
	for _, d := range []string{ro, rw, secret} {
		require.NoError(t, os.Mkdir(d, 0o777))
		require.NoError(t, os.Chmod(d, 0o777)) // DAC lets everyone write: Landlock must stop it
		require.NoError(t, os.WriteFile(filepath.Join(d, "f"), []byte("content-"+filepath.Base(d)), 0o644))
	}
	p := sandbox.Policy{ReadOnly: []string{ro}, ReadWrite: []string{rw}}

	out, code := run(t, sb, p, "cat /etc/hostname >/dev/null && cat "+ro+"/f && echo x > "+rw+"/g && echo ok")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "content-ro")
	require.Contains(t, out, "ok")

	out, code = run(t, sb, p, "cat "+secret+"/f")
	require.NotEqual(t, 0, code)
	require.NotContains(t, out, "content-secret")

	out, code = run(t, sb, p, "echo x > "+ro+"/new")
	require.NotEqual(t, 0, code, out)

	out, _ = run(t, sb, p, "cat /proc/"+itoa(os.Getpid())+"/environ; kill -0 "+itoa(os.Getpid())+" && echo SIGNALED")
	require.NotContains(t, out, "PATH=")
	require.NotContains(t, out, "SIGNALED")

	out, code = run(t, sb, p, "kill -9 $$")
	require.Equal(t, 128+9, code, out)
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestKeepServerUser: when the run-as user cannot reach what actions need,
// auto mode keeps the other protections and runs them as the server's
// user, saying so once; required mode does not give in.
func TestKeepServerUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a separate user needs a root server")
	}
	sb, err := sandbox.New(sandbox.Options{Mode: sandbox.ModeAuto})
	require.NoError(t, err)
	_, _, separate := sb.Owner()
	require.True(t, separate)
	require.True(t, sb.KeepServerUser("the interpreter is out of reach"))
	_, _, separate = sb.Owner()
	require.False(t, separate)
	st := sb.Status()
	require.Equal(t, os.Getuid(), st.RunAsUID)
	require.Contains(t, st.Reason, "the interpreter is out of reach")
	n := 0
	for _, m := range st.Missing {
		if m == sandbox.SeparateUser {
			n++
		}
	}
	require.Equal(t, 1, n, "%v", st.Missing)
	require.True(t, st.Has(sandbox.Landlock), "the other protections stay: %v", st.Active)
	out, code := run(t, sb, sandbox.Policy{}, "id -u")
	require.Equal(t, 0, code, out)
	require.Equal(t, strconv.Itoa(os.Getuid())+"\n", out)

	req, err := sandbox.New(sandbox.Options{Mode: sandbox.ModeRequired})
	require.NoError(t, err)
	require.False(t, req.KeepServerUser("x"), "required mode keeps the separate user or refuses")
}
