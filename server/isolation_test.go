//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
)

// attempt is one thing an attacking action tries, and the protection
// expected to stop it on a root server with full isolation.
type attempt struct {
	name, protection string
}

// attempts are tried by every runner; attackScript prints one
// "ATTEMPT <name> <ALLOWED|denied> <detail>" line for each.
var attempts = []attempt{
	{"server-environ", "PID namespace: the server is not in the action's /proc"},
	{"server-memory", "PID namespace: the server is not in the action's /proc"},
	{"signal-server", "PID namespace: the server's pid names no process the action can see (Landlock scopes signals too)"},
	{"list-data-dir", "separate user (data dir 0711) and Landlock"},
	{"read-database", "separate user (attune.db 0600) and Landlock"},
	{"read-wal", "separate user (attune.db-wal 0600) and Landlock"},
	{"read-encryption-key", "separate user (encryption-key 0600) and Landlock"},
	{"read-world-readable-data-file", "Landlock: the data dir is outside the action's paths"},
	{"write-data-dir", "separate user and Landlock"},
	{"read-other-pack", "Landlock: another pack's directory (0755, readable by DAC) is outside the action's paths"},
	{"read-other-execution-params", "Landlock: another run's directory (same user) is outside the action's paths"},
	{"write-own-pack", "separate user (pack owned by root) and Landlock (pack is read-only)"},
}

// attackScript is a bash script that tries every attempt; $1 is the
// parameter file of another execution.
func attackScript(serverPID int, dataDir, serverAddr, otherPackFile string) string {
	d := dataDir
	try := func(name, cmd string) string {
		return fmt.Sprintf("if out=$( { %s ; } 2>&1 ); then echo \"ATTEMPT %s ALLOWED $(printf %%s \"$out\" | head -c 200 | tr '\\n\\0' '  ')\"; "+
			"else echo \"ATTEMPT %s denied $(printf %%s \"$out\" | head -c 200 | tr '\\n' ' ')\"; fi\n", cmd, name, name)
	}
	var b strings.Builder
	b.WriteString("victim=\"$1\"\n")
	b.WriteString(try("server-environ", fmt.Sprintf("cat /proc/%d/environ | tr '\\0' '\\n' | grep .", serverPID)))
	b.WriteString(try("server-memory", fmt.Sprintf("head -c 64 /proc/%d/mem | od -An | grep .", serverPID)))
	b.WriteString(try("signal-server", fmt.Sprintf("kill -0 %d", serverPID)))
	b.WriteString(try("list-data-dir", "ls "+d+" | grep ."))
	b.WriteString(try("read-database", "head -c 16 "+d+"/attune.db | grep -a ."))
	b.WriteString(try("read-wal", "head -c 16 "+d+"/attune.db-wal | od -An | grep ."))
	b.WriteString(try("read-encryption-key", "cat "+d+"/encryption-key | grep ."))
	b.WriteString(try("read-world-readable-data-file", "cat "+d+"/world-readable | grep ."))
	b.WriteString(try("write-data-dir", "echo x > "+d+"/pwned"))
	b.WriteString(try("read-other-pack", "cat "+otherPackFile+" | grep ."))
	b.WriteString(try("read-other-execution-params", "cat \"$victim\" | grep ."))
	b.WriteString(try("write-own-pack", "echo x > \"$ATTUNE_PACK_DIR_UNDER_TEST\"/pwned"))
	host, port, _ := strings.Cut(serverAddr, ":")
	b.WriteString(try("network", "exec 3<>/dev/tcp/"+host+"/"+port))
	return b.String()
}

// TestActionsCannotReachTheServer runs an attacking action on every runner
// (shell, python, node, native, local) through a root server with full
// isolation. Each attempt on the server's environment, memory, process,
// data directory, another pack and another execution's parameters fails,
// and the test names the protection that stopped it; the network stays
// reachable.
func TestActionsCannotReachTheServer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the separate action user needs a root server")
	}
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend, "ATTUNE_ADMIN_TOKEN=att_isolation0123456789abcdef0123456789",
			"ATTUNE_WORKER_REQUIRE_ISOLATION=true")
		api := client(s, s.token)
		var info struct {
			SystemInfo struct {
				Isolation struct {
					Mode                                               string
					Landlock, UserNamespaces, PidNamespace, NoNewPrivs bool
					MountNamespace, SeparateUser                       bool
					LandlockABI                                        int
					RunAsUser                                          string
					Active, Missing                                    []string
				}
			}
		}
		api.Must(t, `{ systemInfo { isolation { mode landlock userNamespaces pidNamespace mountNamespace noNewPrivs
			separateUser landlockABI runAsUser active missing } } }`, nil, &info)
		iso := info.SystemInfo.Isolation
		require.Equal(t, "required", iso.Mode)
		// A root server needs no user namespace: actions run as another user.
		require.True(t, iso.Landlock && iso.PidNamespace && iso.MountNamespace && iso.NoNewPrivs && iso.SeparateUser, "%+v", iso)
		require.Empty(t, iso.Missing)
		require.NotEqual(t, "root", iso.RunAsUser)
		require.Contains(t, s.out.String(), `msg="action isolation"`)

		serverPID := s.cmd.Process.Pid
		environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", serverPID))
		require.NoError(t, err)
		require.NotContains(t, string(environ), "ATTUNE_ADMIN_TOKEN", "the server sheds its secrets from its environment")
		require.NotContains(t, string(environ), "att_isolation")

		dataDir := filepath.Join(s.dir, "data")
		require.NoError(t, os.WriteFile(filepath.Join(dataDir, "world-readable"), []byte("secret-but-0644"), 0o644))
		addr := strings.TrimPrefix(s.url, "http://")
		coreDir := versionDir(t, dataDir, "core")
		script := attackScript(serverPID, dataDir, addr, filepath.Join(coreDir, "actions", "echo.sh"))
		src := writeTree(t, map[string]string{
			"pack.yaml":           "ref: attack\nversion: 1.0.0\n",
			"actions/attack.sh":   "#!/bin/bash\nread -r p\nv=$(printf %s \"$p\" | sed -n 's/.*\"victim\": *\"\\([^\"]*\\)\".*/\\1/p')\nexport ATTUNE_PACK_DIR_UNDER_TEST=$(cd \"$(dirname \"$0\")/..\" && pwd)\nset -- \"$v\"\n" + script,
			"actions/shell.yaml":  "ref: attack.shell\nrunner_type: shell\nentry_point: attack.sh\nparameters:\n  victim: {type: string}\n",
			"actions/native.yaml": "ref: attack.native\nrunner_type: native\nentry_point: attack.sh\nparameters:\n  victim: {type: string}\n",
			"actions/attack.py": "import ctypes, os, subprocess, sys\n" +
				"libc = ctypes.CDLL(None, use_errno=True)\n" +
				fmt.Sprintf("r = libc.ptrace(16, %d, 0, 0)\n", serverPID) +
				"print('ATTEMPT ptrace-server', 'ALLOWED' if r == 0 else 'denied', os.strerror(ctypes.get_errno()))\n" +
				"try:\n    open(sys.prefix + '/pwned', 'w')\n    print('ATTEMPT write-own-env ALLOWED')\n" +
				"except OSError as e:\n    print('ATTEMPT write-own-env denied', e)\n" +
				"sys.stdout.flush()\n" +
				"subprocess.run(['/bin/bash', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'attack.sh')], check=False)\n",
			"actions/python.yaml": "ref: attack.python\nrunner_type: python\nentry_point: attack.py\nparameters:\n  victim: {type: string}\n",
			"actions/attack.js": "const cp = require('child_process');\n" +
				"cp.spawnSync('/bin/bash', [__dirname + '/attack.sh'], {stdio: 'inherit'});\n",
			"actions/node.yaml":   "ref: attack.node\nrunner_type: node\nentry_point: attack.js\nparameters:\n  victim: {type: string}\n",
			"actions/victim.sh":   "#!/bin/sh\necho \"$ATTUNE_PARAMETERS_FILE\"\nexec sleep 300\n",
			"actions/victim.yaml": "ref: attack.victim\nrunner_type: shell\nentry_point: victim.sh\nparameter_delivery: file\nparameters:\n  token: {type: string}\n",
		})
		searchable(t, src)
		var installed struct {
			InstallPack struct{ Pack struct{ Ref, Path string } }
		}
		api.Must(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref path } } }`, map[string]any{"s": src}, &installed)
		packDir := installed.InstallPack.Pack.Path
		require.Equal(t, filepath.Join(dataDir, "packs", "attack"), filepath.Dir(packDir), "<packs_dir>/<ref>/<checksum>")

		// Another execution, run as the same user, holds a secret parameter.
		victim := execute(t, s, "attack.victim", map[string]any{"token": "victim-secret-42"})
		paramFile := firstLine(t, s, victim)
		require.True(t, filepath.IsAbs(paramFile), paramFile)

		// core.local's own pack is core: the other pack is attack.
		localCmd := "set -- " + paramFile + "\nexport ATTUNE_PACK_DIR_UNDER_TEST=" + coreDir + "\n" +
			attackScript(serverPID, dataDir, addr, filepath.Join(packDir, "actions", "attack.sh"))
		for _, tc := range []struct {
			runner, ref string
			params      map[string]any
			extra       []string
		}{
			{"shell", "attack.shell", map[string]any{"victim": paramFile}, nil},
			{"native", "attack.native", map[string]any{"victim": paramFile}, nil},
			{"python", "attack.python", map[string]any{"victim": paramFile}, []string{"ptrace-server", "write-own-env"}},
			{"node", "attack.node", map[string]any{"victim": paramFile}, nil},
			{"local", "core.local", map[string]any{"cmd": localCmd}, nil},
		} {
			t.Run(tc.runner, func(t *testing.T) {
				id := execute(t, s, tc.ref, tc.params)
				states := follow(t, s, id)
				var out struct {
					Execution struct{ Stdout, Stderr string }
				}
				api.Must(t, `query($id: ID!){ execution(id: $id){ stdout stderr } }`, map[string]any{"id": id}, &out)
				stdout := out.Execution.Stdout
				results := map[string]string{}
				for _, line := range strings.Split(stdout, "\n") {
					if f := strings.SplitN(line, " ", 4); len(f) >= 3 && f[0] == "ATTEMPT" {
						results[f[1]] = strings.Join(f[2:], " ")
					}
				}
				require.NotEmpty(t, results, "no attempt ran: %+v\nstdout: %s\nstderr: %s", states, stdout, out.Execution.Stderr)
				for _, a := range attempts {
					got, ok := results[a.name]
					require.True(t, ok, "attempt %s did not run; stdout:\n%s\nstderr: %s", a.name, stdout, out.Execution.Stderr)
					require.True(t, strings.HasPrefix(got, "denied"), "%s on the %s runner was not stopped (%s should have): %s",
						a.name, tc.runner, a.protection, got)
					t.Logf("%s: %s stopped by %s (%s)", tc.runner, a.name, a.protection, got)
				}
				for _, name := range tc.extra {
					require.True(t, strings.HasPrefix(results[name], "denied"), "%s on the %s runner: %s", name, tc.runner, results[name])
					t.Logf("%s: %s stopped (%s)", tc.runner, name, results[name])
				}
				if tc.runner == "shell" || tc.runner == "native" || tc.runner == "python" || tc.runner == "node" {
					require.True(t, strings.HasPrefix(results["network"], "ALLOWED"), "actions keep the network: %s", results["network"])
				}
				require.NotContains(t, stdout, "victim-secret-42")
				require.NotContains(t, stdout, "att_isolation")
			})
		}
		api.Must(t, `mutation($id: ID!){ cancelExecution(id: $id){ id } }`, map[string]any{"id": victim}, nil)
		follow(t, s, victim)
	})
}

// firstLine waits for the first output line of execution id.
func firstLine(t *testing.T, s *server, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), execDeadline)
	defer cancel()
	out := subscribe(t, ctx, s, `subscription($id: ID!) { executionOutput(id: $id) { line } }`, map[string]any{"id": id})
	var d struct{ ExecutionOutput struct{ Line string } }
	require.NoError(t, json.Unmarshal(<-out, &d))
	return d.ExecutionOutput.Line
}

// TestKilledServerTakesActionProcessesAlong: kill -9 of the server while a
// shell action runs with a background child; the child dies with it (the
// action's PID namespace dies with its launcher, whose death pipe the
// server's death closed).
func TestKilledServerTakesActionProcessesAlong(t *testing.T) {
	t.Parallel()
	dbURL := dbtest.URL(t, "sqlite")
	marker := "attune-orphan-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	s := startDoomed(t, nil, "-database-url", dbURL)
	addPack(t, dbURL, map[string]string{
		"bg.sh": "#!/bin/bash\nbash -c 'sleep 300; : " + marker + "' &\nsetsid bash -c 'sleep 300; : " + marker + "' &\necho started\nwait\n",
	})
	id := execute(t, s, "e2e.bg", nil)
	waitStarted(t, s, id)
	require.Eventually(t, func() bool { return len(processesUnder(marker)) >= 2 }, execDeadline, 20*time.Millisecond,
		"the background children run")
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGKILL))
	s.proc.waitExit(t, stopTimeout)
	require.Eventually(t, func() bool { return len(processesUnder(marker)) == 0 }, 10*time.Second, 20*time.Millisecond,
		"the action's children outlived the server: %v", processesUnder(marker))
}

// TestEnvironmentBuildIsSandboxed: a requirements.txt that includes
// /etc/shadow fails the install without showing any of it.
func TestEnvironmentBuildIsSandboxed(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs a root server: /etc/shadow is unreadable to others anyway")
	}
	shadow, err := os.ReadFile("/etc/shadow")
	if err != nil {
		t.Skip("no /etc/shadow")
	}
	firstShadowLine, _, _ := strings.Cut(string(shadow), "\n")
	t.Parallel()
	s := startServer(t, nil)
	src := writeTree(t, map[string]string{
		"pack.yaml":        "ref: shadow\nversion: 1.0.0\n",
		"requirements.txt": "-r /etc/shadow\n",
		"actions/a.yaml":   "ref: shadow.a\nrunner_type: python\nentry_point: a.py\n",
		"actions/a.py":     "print(1)\n",
	})
	searchable(t, src)
	e := gqltest.New(s.url+"/graphql").Fail(t, `mutation($s:String!){ installPack(input:{source:$s}){ pack{ ref } } }`,
		map[string]any{"s": src})
	msg := e.Message
	require.NotContains(t, msg, firstShadowLine)
	require.NotContains(t, msg, "root:")
	require.Contains(t, msg, "Permission denied", "the build user may not read /etc/shadow")
}

// TestRequireIsolationWithIsolationOffIsRefused: the two settings
// contradict each other; the server says so and exits 2.
func TestRequireIsolationWithIsolationOffIsRefused(t *testing.T) {
	t.Parallel()
	code, out := runAttune(t, []string{"ATTUNE_WORKER_REQUIRE_ISOLATION=true", "ATTUNE_WORKER_ISOLATION=off"},
		"-data-dir", t.TempDir())
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "worker.require_isolation is true but worker.isolation is off")
}
