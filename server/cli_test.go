package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/attune-io/attune/internal/cli"
	"github.com/attune-io/attune/internal/dbtest"
)

// The command line client is the same binary (attuneBin): these tests run
// it against a real server started like `make run`, on both backends.

const cliTimeout = 60 * time.Second

// cliRun is one finished client command.
type cliRun struct {
	code           int
	stdout, stderr string
}

// cliCmd prepares the client in the server's working directory (where
// data/admin-token is) with ATTUNE_URL pointing at it and a config
// directory of the test's own; env adds or overrides variables.
func cliCmd(t *testing.T, s *server, env []string, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cliTimeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, attuneBin, args...)
	cmd.Dir = s.dir
	base := []string{"ATTUNE_URL=" + s.url, "XDG_CONFIG_HOME=" + t.TempDir(), "NO_COLOR=1"}
	cmd.Env = append(childEnv(base), env...)
	return cmd
}

// attune runs the client to its end.
func attune(t *testing.T, s *server, env []string, args ...string) cliRun {
	t.Helper()
	cmd := cliCmd(t, s, env, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("attune %s: %v", strings.Join(args, " "), err)
	}
	r := cliRun{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
	t.Logf("attune %s -> %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

// ok runs the client and requires exit 0.
func ok(t *testing.T, s *server, env []string, args ...string) cliRun {
	t.Helper()
	r := attune(t, s, env, args...)
	require.Equal(t, 0, r.code, "attune %s\n%s", strings.Join(args, " "), r.stderr)
	return r
}

// jsonOut runs the client with -o json and decodes its stdout into v.
func jsonOut(t *testing.T, s *server, v any, args ...string) {
	t.Helper()
	r := ok(t, s, nil, append(args, "-o", "json")...)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), v), r.stdout)
}

func TestCLILoginAndLocalServer(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		// No login: the local server's data/admin-token is used.
		var who map[string]any
		jsonOut(t, s, &who, "whoami")
		require.Equal(t, "ADMIN", who["role"])
		require.Equal(t, filepath.Join("data", "admin-token"), who["tokenFrom"])

		// login stores the URL and token (0600); later commands from
		// anywhere, without ATTUNE_URL, use them.
		cfg := t.TempDir()
		tokenFile := filepath.Join(t.TempDir(), "token")
		require.NoError(t, os.WriteFile(tokenFile, []byte(s.token+"\n"), 0o600))
		cmd := cliCmd(t, s, []string{"XDG_CONFIG_HOME=" + cfg}, "login", "--url", s.url, "--token-file", tokenFile)
		cmd.Dir = t.TempDir()
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		st, err := os.Stat(filepath.Join(cfg, "attune", "config.yaml"))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
		cmd = exec.Command(attuneBin, "whoami", "-o", "json")
		cmd.Dir = t.TempDir()
		cmd.Env = childEnv([]string{"XDG_CONFIG_HOME=" + cfg})
		out, err = cmd.Output()
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(out, &who))
		require.Equal(t, "config", who["urlFrom"])
		require.Equal(t, "config", who["tokenFrom"])

		// Exit codes: a bad token, an unreachable server, a bad flag, an
		// unknown command.
		require.Equal(t, cli.ExitAuth, attune(t, s, []string{"ATTUNE_TOKEN=att_nope"}, "action", "list").code)
		require.Equal(t, cli.ExitServer, attune(t, s, []string{"ATTUNE_URL=http://127.0.0.1:1"}, "action", "list").code)
		require.Equal(t, cli.ExitUsage, attune(t, s, nil, "action", "list", "--nope").code)
		require.Equal(t, cli.ExitUsage, attune(t, s, nil, "action", "list", "-o", "xml").code)
		require.Equal(t, cli.ExitNotFound, attune(t, s, nil, "action", "get", "core.nope").code)
	})
}

func TestCLIRunAndExecutions(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)

		// Output lines go to stdout and stderr; the exit code is the action's.
		r := attune(t, s, nil, "run", "core.local", "cmd=echo one; echo two >&2; exit 3")
		require.Equal(t, 3, r.code)
		require.Equal(t, "one\n", r.stdout)
		require.Contains(t, r.stderr, "two\n")
		require.Contains(t, r.stderr, ": FAILED")

		// -o json prints the finished execution.
		var ex map[string]any
		jsonOut(t, s, &ex, "run", "core.echo", "message=hello")
		require.Equal(t, "SUCCEEDED", ex["status"])
		require.Equal(t, "hello\n", ex["stdout"])
		id := ex["id"].(string)

		var got map[string]any
		jsonOut(t, s, &got, "execution", "get", id, "-a", "id,status,parameters.message")
		require.Equal(t, map[string]any{"id": id, "status": "SUCCEEDED", "parameters.message": "hello"}, got)
		var list []map[string]any
		jsonOut(t, s, &list, "execution", "list", "--action", "core.echo", "--status", "succeeded", "--since", "1h", "--limit", "5")
		require.Len(t, list, 1)
		require.Equal(t, id, list[0]["id"])
		table := ok(t, s, nil, "execution", "list", "-a", "id,status").stdout
		require.Contains(t, table, "ID")
		require.Contains(t, table, id+"  SUCCEEDED")

		// Errors and their exit codes.
		require.Equal(t, cli.ExitConflict, attune(t, s, nil, "execution", "cancel", id).code)
		require.Equal(t, cli.ExitNotFound, attune(t, s, nil, "execution", "get", "1").code)
		require.Equal(t, cli.ExitNotFound, attune(t, s, nil, "run", "core.nope").code)
		bad := attune(t, s, nil, "run", "core.echo")
		require.Equal(t, cli.ExitUsage, bad.code)
		require.Contains(t, bad.stderr, "BAD_USER_INPUT")
		require.Equal(t, cli.ExitUsage, attune(t, s, nil, "run", "core.echo", "message").code)

		// name=@file reads a value; -o yaml parses back.
		script := filepath.Join(t.TempDir(), "cmd.sh")
		require.NoError(t, os.WriteFile(script, []byte("echo from a file"), 0o600))
		r = ok(t, s, nil, "run", "core.local", "cmd=@"+script, "-o", "yaml", "-a", "status,stdout,parameters.cmd")
		var y map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(r.stdout), &y), r.stdout)
		require.Equal(t, map[string]any{"status": "SUCCEEDED", "stdout": "from a file\n",
			"parameters.cmd": "echo from a file"}, y)

		// run ACTION --help lists the parameters.
		help := ok(t, s, nil, "run", "core.local", "--help").stdout
		require.Regexp(t, `(?m)^cmd +string +true `, help)
		// Values are typed by the schema: an integer parameter takes 30,
		// and refuses a word before anything is sent.
		require.Regexp(t, `(?m)^timeout +integer `, help)
		ok(t, s, nil, "run", "core.local", "cmd=true", "timeout=30")
		r = attune(t, s, nil, "run", "core.local", "cmd=true", "timeout=soon")
		require.Equal(t, cli.ExitUsage, r.code)
		require.Contains(t, r.stderr, `timeout: "soon" is not an integer`)
		require.Equal(t, cli.ExitNotFound, attune(t, s, nil, "run", "core.nope", "--help").code)
		actions := ok(t, s, nil, "action", "list").stdout
		require.Contains(t, actions, "core.local")

		// --async prints the id; cancel, then tail ends with it.
		r = ok(t, s, nil, "run", "core.local", "cmd=sleep 60", "--async")
		async := strings.TrimSpace(r.stdout)
		require.NotEmpty(t, async)
		ok(t, s, nil, "execution", "cancel", async)
		r = attune(t, s, nil, "execution", "tail", async)
		require.Equal(t, cli.ExitFailed, r.code)
		require.Contains(t, r.stderr, "CANCELED")
	})
}

func TestCLIRunFollowsLive(t *testing.T) {
	t.Parallel()
	s := startLikeMakeRun(t, "sqlite")
	gate := filepath.Join(t.TempDir(), "go")
	// The action prints a line, then waits for the test to see it: only a
	// client that streams output lets the test create the gate file.
	cmd := cliCmd(t, s, nil, "run", "core.local",
		"cmd=echo waiting; while [ ! -f "+gate+" ]; do sleep 0.05; done; echo released")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	require.NoError(t, cmd.Start())
	// stderr is read only after Wait: the process writes it until then.
	t.Cleanup(func() {
		if t.Failed() {
			_ = cmd.Wait()
			t.Logf("stderr:\n%s", errb.String())
		}
	})
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan())
	require.Equal(t, "waiting", lines.Text())
	require.NoError(t, os.WriteFile(gate, nil, 0o600))
	require.True(t, lines.Scan())
	require.Equal(t, "released", lines.Text())
	require.NoError(t, cmd.Wait(), errb.String())
}

func TestCLIKeysTokensRulesEvents(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend, "ATTUNE_ENCRYPTION_KEY="+testEncKey)

		ok(t, s, nil, "key", "set", "greeting", `{"text":"hi"}`)
		ok(t, s, nil, "key", "set", "password", "s3cret", "--secret")
		var keys []map[string]any
		jsonOut(t, s, &keys, "key", "list")
		require.Len(t, keys, 2)
		for _, k := range keys {
			if k["name"] == "password" {
				require.Nil(t, k["value"], "a secret's value stays hidden")
			} else {
				require.Equal(t, map[string]any{"text": "hi"}, k["value"])
			}
		}
		var key map[string]any
		jsonOut(t, s, &key, "key", "get", "password", "--decrypt")
		require.Equal(t, "s3cret", key["value"])
		ok(t, s, nil, "key", "delete", "password")
		require.Equal(t, cli.ExitNotFound, attune(t, s, nil, "key", "get", "password").code)

		// A viewer token may read but not write.
		viewer := strings.TrimSpace(ok(t, s, nil, "token", "create", "ci", "--role", "viewer").stdout)
		require.True(t, strings.HasPrefix(viewer, "att_"))
		asViewer := []string{"ATTUNE_TOKEN=" + viewer}
		ok(t, s, asViewer, "action", "list")
		require.Equal(t, cli.ExitAuth, attune(t, s, asViewer, "key", "set", "x", "1").code)
		var tokens []map[string]any
		jsonOut(t, s, &tokens, "token", "list")
		var ciID string
		for _, tk := range tokens {
			if tk["name"] == "ci" {
				ciID = tk["id"].(string)
			}
		}
		require.NotEmpty(t, ciID)
		ok(t, s, nil, "token", "revoke", ciID)
		require.Equal(t, cli.ExitAuth, attune(t, s, asViewer, "action", "list").code)

		// Rules: created from a StackStorm-style rule file.
		ruleFile := filepath.Join(t.TempDir(), "rule.yaml")
		require.NoError(t, os.WriteFile(ruleFile, []byte(`name: ops.on_hook
description: Echo what the webhook says.
trigger:
  type: core.webhook
criteria:
  trigger.body.kind: {type: equals, pattern: greet}
action:
  ref: core.echo
  parameters:
    message: "{{ trigger.body.msg }}"
`), 0o600))
		var created map[string]any
		jsonOut(t, s, &created, "rule", "create", "-f", ruleFile)
		require.Equal(t, "ops.on_hook", created["ref"])
		require.Equal(t, map[string]any{"message": "{{ trigger.body.msg }}"}, created["actionParams"])
		require.Equal(t, cli.ExitConflict, attune(t, s, nil, "rule", "create", "-f", ruleFile).code)
		require.Equal(t, cli.ExitUsage, attune(t, s, nil, "rule", "create").code)
		admin := client(s, s.token)
		var rules []map[string]any
		jsonOut(t, s, &rules, "rule", "list")
		require.Len(t, rules, 1)
		require.Equal(t, true, rules[0]["enabled"])
		var rule map[string]any
		jsonOut(t, s, &rule, "rule", "disable", "ops.on_hook")
		require.Equal(t, false, rule["enabled"])
		jsonOut(t, s, &rule, "rule", "enable", "ops.on_hook")
		require.Equal(t, true, rule["enabled"])
		var picked map[string]any
		jsonOut(t, s, &picked, "rule", "get", "ops.on_hook", "-a", "ref,triggerRef")
		require.Equal(t, map[string]any{"ref": "ops.on_hook", "triggerRef": "core.webhook"}, picked)

		// Triggers, events, webhooks.
		require.Contains(t, ok(t, s, nil, "trigger", "list").stdout, "core.webhook")
		var ev map[string]any
		jsonOut(t, s, &ev, "event", "emit", "core.webhook", `{"body":{"n":1}}`)
		require.Equal(t, "core.webhook", ev["triggerRef"])
		require.Equal(t, cli.ExitNotFound, attune(t, s, nil, "event", "emit", "core.nope").code)
		hookKey := rotateKey(t, admin, "core.webhook")
		body := filepath.Join(t.TempDir(), "body.json")
		require.NoError(t, os.WriteFile(body, []byte(`{"n":2}`), 0o600))
		ok(t, s, nil, "webhook", "post", "core.webhook", "--key", hookKey, "-d", "@"+body)
		require.Equal(t, cli.ExitAuth, attune(t, s, nil, "webhook", "post", "core.webhook", "--key", "wrong", "-d", "{}").code)

		require.Equal(t, cli.ExitNotFound, attune(t, s, nil, "rule", "delete", "ops.nope").code)
		ok(t, s, nil, "rule", "delete", "ops.on_hook")

		// The audit trail saw the mutations.
		var audit []map[string]any
		jsonOut(t, s, &audit, "audit", "list", "--operation", "setKey")
		require.Len(t, audit, 3) // two by the admin, one refused
	})
}

func TestCLIPacks(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)

		// Without a terminal: a plain line per step change.
		r := ok(t, s, nil, "pack", "install", "examples/packs/python_example", "-o", "json")
		for _, step := range []string{"fetch", "validate", "environment", "register"} {
			require.Regexp(t, `(?m)^`+step+` +done \(\d+ms\)$`, r.stderr)
		}
		// pip's lines, each as it came, between the environment step's
		// start and end.
		require.Regexp(t, `(?s)\nenvironment +running\n`+
			`(environment +\| .*\n)*environment +\| Processing \./wheels/attune_greeting-0\.1\.0-py3-none-any\.whl.*\n`+
			`(environment +\| .*\n)*environment +\| Successfully installed attune-greeting-0\.1\.0\n`+
			`environment +done`, r.stderr)
		var p map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &p))
		require.Equal(t, "python_example", p["ref"])
		require.Equal(t, "READY", p["envStatus"])

		require.Equal(t, cli.ExitConflict, attune(t, s, nil, "pack", "install", "examples/packs/python_example").code)
		var packs []map[string]any
		jsonOut(t, s, &packs, "pack", "list")
		var refs []string
		for _, p := range packs {
			refs = append(refs, p["ref"].(string))
		}
		require.Contains(t, refs, "python_example")
		jsonOut(t, s, &p, "pack", "get", "python_example")
		require.Equal(t, "1.0.0", p["version"])
		ok(t, s, nil, "pack", "remove", "python_example")
		require.Equal(t, cli.ExitNotFound, attune(t, s, nil, "pack", "get", "python_example").code)

		// An invalid pack: the problems table, file and line.
		bad := filepath.Join(s.dir, "bad")
		require.NoError(t, os.MkdirAll(filepath.Join(bad, "actions"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(bad, "pack.yaml"), []byte("ref: bad\nname: bad\nversion: 1.0.0\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(bad, "actions", "x.yaml"), []byte("name: x\nrunner_type: nosuch\nentry_point: x.sh\n"), 0o644))
		r = attune(t, s, nil, "pack", "install", "bad")
		require.Equal(t, cli.ExitUsage, r.code)
		require.Regexp(t, `(?m)^FILE +LINE +MESSAGE$`, r.stderr)
		require.Regexp(t, `(?m)^actions/x\.yaml +2 +runner_type: unknown runner type "nosuch"`, r.stderr)
		require.NotContains(t, r.stderr, "TASK", "no problem is in a task")

		// A workflow's problems name their task in a column of its own.
		badwf := filepath.Join(s.dir, "badwf")
		require.NoError(t, os.MkdirAll(filepath.Join(badwf, "actions", "workflows"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(badwf, "pack.yaml"), []byte("ref: badwf\nname: badwf\nversion: 1.0.0\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(badwf, "actions", "x.yaml"), []byte("name: x\nrunner_type: nosuch\nentry_point: x.sh\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(badwf, "actions", "flow.yaml"), []byte("name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(badwf, "actions", "workflows", "flow.yaml"),
			[]byte("version: 1.0\ntasks:\n  one:\n    action: core.echo message=\"hi\"\n  two:\n    action: core.gone\n"), 0o644))
		r = attune(t, s, []string{"COLUMNS=200"}, "pack", "install", "badwf")
		require.Equal(t, cli.ExitUsage, r.code)
		require.Regexp(t, `(?m)^FILE +LINE +TASK +MESSAGE$`, r.stderr)
		require.Regexp(t, `(?m)^actions/workflows/flow\.yaml +6 +two +tasks\.two\.action: the action "core\.gone" is not registered$`, r.stderr)
		require.Regexp(t, `(?m)^actions/x\.yaml +2 +runner_type: unknown runner type "nosuch"`, r.stderr)
		require.Regexp(t, `(?m)^validate +failed \(\d+ms\): invalid pack: 3 problem\(s\)$`, r.stderr, "the problems are in the table only")
		require.NotContains(t, r.stderr, "task two:", "the task is not repeated in the message")

		// Upload an archive.
		archive := filepath.Join(t.TempDir(), "tiny.tar.gz")
		writeTarGz(t, archive, map[string]string{
			"pack.yaml":          "ref: tiny\nname: tiny\nversion: 0.1.0\n",
			"actions/hello.yaml": "name: hello\nrunner_type: shell\nentry_point: hello.sh\n",
			"actions/hello.sh":   "#!/bin/sh\necho hello from tiny\n",
		})
		jsonOut(t, s, &p, "pack", "upload", archive)
		require.Equal(t, "tiny", p["ref"])
		r = ok(t, s, nil, "run", "tiny.hello")
		require.Equal(t, "hello from tiny\n", r.stdout)
	})
}

func writeTarGz(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, gz.Close())
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

func TestCLIPackInstallProgressBarInTerminal(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		cmd := cliCmd(t, s, []string{"COLUMNS=100"}, "pack", "install", "examples/packs/python_example")
		f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 100})
		require.NoError(t, err)
		defer f.Close()
		var out bytes.Buffer
		_, _ = io.Copy(&out, f) // EIO once the process exits
		require.NoError(t, cmd.Wait(), out.String())
		got := out.String()
		// A spinner bar per step, redrawn in place with \r, each finished
		// with its elapsed time.
		require.Contains(t, got, "\r")
		for _, step := range []string{"fetch", "validate", "environment", "register"} {
			require.Regexp(t, step+` +done`, got)
		}
		require.Regexp(t, `\[\d+(\.\d+)?m?s\]`, got)
		require.Regexp(t, `(?m)^ref +python_example`, strings.ReplaceAll(got, "\r\n", "\n"))
		// pip's latest line beside the environment step's spinner, cut
		// to the terminal's width so it redraws in place.
		require.Regexp(t, `\r\S+ environment +Processing \./wheels/attune_greeting-0\.1\.0-py3-none-any\.whl`, got)
		require.Regexp(t, `\r\S+ environment +Successfully installed attune-greeting-0\.1\.0 +\[\d+m?s\]`, got)
		require.Regexp(t, `\r\S+ environment +Looking in links: [^\r]*… +\[\d+m?s\]`, got)
		for _, l := range regexp.MustCompile(`[\r\n]+`).Split(got, -1) {
			require.LessOrEqual(t, len([]rune(l)), 100, "fits the terminal: %q", l)
		}
	})
}

func TestCLICompletion(t *testing.T) {
	t.Parallel()
	s := startLikeMakeRun(t, "sqlite")
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	cmd := exec.Command(bash, "-c", `source <("$ATTUNE" completion bash) && complete -p attune`)
	cmd.Env = append(os.Environ(), "ATTUNE="+attuneBin)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "attune")
	for _, shell := range []string{"zsh", "fish"} {
		require.NotEmpty(t, ok(t, s, nil, "completion", shell).stdout)
	}
	// Action refs and parameter names come from the server.
	r := ok(t, s, nil, "__complete", "run", "core.lo")
	require.Contains(t, r.stdout, "core.local\t")
	require.NotContains(t, r.stdout, "core.echo")
	r = ok(t, s, nil, "__complete", "run", "core.local", "")
	require.Contains(t, r.stdout, "cmd=")
}

func TestCLIColourOnlyOnATerminal(t *testing.T) {
	t.Parallel()
	s := startLikeMakeRun(t, "sqlite")
	inPty := func(env ...string) string {
		cmd := cliCmd(t, s, nil, "action", "list")
		// cliCmd sets NO_COLOR=1; drop it unless env gives it again.
		var kept []string
		for _, kv := range cmd.Env {
			if !strings.HasPrefix(kv, "NO_COLOR=") {
				kept = append(kept, kv)
			}
		}
		cmd.Env = append(append(kept, "TERM=xterm"), env...)
		f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 60})
		require.NoError(t, err)
		defer f.Close()
		var out bytes.Buffer
		_, _ = io.Copy(&out, f)
		require.NoError(t, cmd.Wait(), out.String())
		return out.String()
	}
	got := inPty()
	require.Contains(t, got, "\x1b[1mREF")
	for _, line := range strings.Split(strings.TrimSpace(got), "\r\n") {
		require.LessOrEqual(t, len([]rune(strings.ReplaceAll(strings.ReplaceAll(line, "\x1b[1m", ""), "\x1b[0m", ""))), 60, "fits the terminal: %q", line)
	}
	require.NotContains(t, inPty("NO_COLOR=1"), "\x1b[")
	require.NotContains(t, ok(t, s, nil, "action", "list").stdout, "\x1b[")
}

// TestCLIPackConfig: `attune pack config` shows a StackStorm pack's config
// (secrets masked, --decrypt for an ADMIN), and --set merges typed fields
// into the stored config, keeping the secrets and the other fields'
// defaults (an upgrade's new defaults show), with the server's field
// problems listed.
func TestCLIPackConfig(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend, "ATTUNE_ENCRYPTION_KEY="+testEncKey)
		ok(t, s, nil, "pack", "install", st2cfgPack(t, "1.0.0", ""))

		// config runs `pack config` with -o json into a map of its own.
		config := func(args ...string) map[string]any {
			var cfg map[string]any
			jsonOut(t, s, &cfg, append([]string{"pack", "config", "st2cfg"}, args...)...)
			return cfg
		}
		// The schema's defaults before any value is set.
		cfg := config()
		require.Equal(t, map[string]any{"api_url": "https://api.example.com", "retries": float64(3),
			"auth": map[string]any{"realm": "corp"}}, cfg)

		// Values are typed by the schema before anything is sent.
		r := attune(t, s, nil, "pack", "config", "st2cfg", "--set", "retries=three")
		require.Equal(t, cli.ExitUsage, r.code)
		require.Contains(t, r.stderr, `retries: "three" is not an integer`)
		// The server's verdict: every field that does not fit, one a line.
		r = attune(t, s, nil, "pack", "config", "st2cfg", "--set", `retries:="three"`, "--set", "auth.password:=7")
		require.Equal(t, cli.ExitUsage, r.code)
		require.Contains(t, r.stderr, "BAD_USER_INPUT")
		for _, line := range []string{"api_key: is required", "auth.password: must be a string",
			"auth.user: is required", "retries: must be an integer"} {
			require.Contains(t, r.stderr, "\n  "+line+"\n")
		}

		cfg = config("--set", "api_key=key-1", "--set", "auth.user=ops",
			"--set", "auth.password=pw-1", "--set", "retries=5")
		require.Equal(t, map[string]any{"api_url": "https://api.example.com", "api_key": "********", "retries": float64(5),
			"auth": map[string]any{"user": "ops", "password": "********", "realm": "corp"}}, cfg)
		table := ok(t, s, nil, "pack", "config", "st2cfg").stdout
		require.Regexp(t, `(?m)^FIELD +VALUE$`, table)
		require.Regexp(t, `(?m)^auth\.password +\*{8}$`, table)
		require.Regexp(t, `(?m)^auth\.user +ops$`, table)
		require.Regexp(t, `(?m)^retries +5$`, table)

		// A change of one field keeps the others, secrets too.
		ok(t, s, nil, "pack", "config", "st2cfg", "--set", "retries=7", "--set", "tags:=[1,2]")
		cfg = config("--decrypt")
		require.Equal(t, map[string]any{"api_url": "https://api.example.com", "api_key": "key-1", "retries": float64(7),
			"tags": []any{float64(1), float64(2)}, "auth": map[string]any{"user": "ops", "password": "pw-1", "realm": "corp"}}, cfg)

		// --set stored only the fields given, not the defaults of the
		// others: an upgrade changing those defaults shows through.
		upgrade := st2cfgPack(t, "1.1.0", "")
		schemaFile := filepath.Join(upgrade, "config.schema.yaml")
		raw, err := os.ReadFile(schemaFile)
		require.NoError(t, err)
		changed := strings.NewReplacer(`"https://api.example.com"`, `"https://api2.example.com"`, `"corp"`, `"corp2"`).Replace(string(raw))
		require.NoError(t, os.WriteFile(schemaFile, []byte(changed), 0o600))
		ok(t, s, nil, "pack", "install", "--force", upgrade)
		cfg = config("--decrypt")
		require.Equal(t, map[string]any{"api_url": "https://api2.example.com", "api_key": "key-1", "retries": float64(7),
			"tags": []any{float64(1), float64(2)}, "auth": map[string]any{"user": "ops", "password": "pw-1", "realm": "corp2"}}, cfg)

		// A viewer reads it masked, not decrypted, and may not change it.
		viewer := []string{"ATTUNE_TOKEN=" + strings.TrimSpace(ok(t, s, nil, "token", "create", "v", "--role", "viewer").stdout)}
		cfg = config("--token", strings.TrimPrefix(viewer[0], "ATTUNE_TOKEN="))
		require.Equal(t, "********", cfg["api_key"])
		require.Equal(t, cli.ExitAuth, attune(t, s, viewer, "pack", "config", "st2cfg", "--decrypt").code)
		require.Equal(t, cli.ExitAuth, attune(t, s, viewer, "pack", "config", "st2cfg", "--set", "api_key=x", "--set", "auth.password=y").code)
		// An editor, which may not read the secrets, changes a field and
		// the secrets stay (the server merges); it may replace them too.
		editor := []string{"ATTUNE_TOKEN=" + strings.TrimSpace(ok(t, s, nil, "token", "create", "e", "--role", "editor").stdout)}
		ok(t, s, editor, "pack", "config", "st2cfg", "--set", "retries=8")
		cfg = config("--decrypt", "-a", "api_key,auth.password,retries,auth.user")
		require.Equal(t, map[string]any{"api_key": "key-1", "auth.password": "pw-1", "retries": float64(8), "auth.user": "ops"}, cfg)
		ok(t, s, editor, "pack", "config", "st2cfg", "--set", "api_key=key-2", "--set", "auth.password=pw-2")
		cfg = config("--decrypt", "-a", "api_key,auth.password,retries,auth.user")
		require.Equal(t, map[string]any{"api_key": "key-2", "auth.password": "pw-2", "retries": float64(8), "auth.user": "ops"}, cfg)

		require.Equal(t, cli.ExitNotFound, attune(t, s, nil, "pack", "config", "nope").code)
		require.Equal(t, cli.ExitUsage, attune(t, s, nil, "pack", "config", "st2cfg", "--set", "novalue").code)
	})
}

// cliWorkflowPack is a StackStorm-format pack of Orquesta workflows: two
// tasks echoing text, one whose task fails, and one whose first task
// waits for a file (input gate) before the second runs.
func cliWorkflowPack() map[string]string {
	return map[string]string{
		"pack.yaml":          "name: wfcli\nref: wfcli\nversion: 1.0.0\ndescription: CLI workflows\nauthor: tests\n",
		"actions/pair.yaml":  "name: pair\nrunner_type: orquesta\nentry_point: workflows/pair.yaml\ndescription: two echoes\n",
		"actions/fails.yaml": "name: fails\nrunner_type: orquesta\nentry_point: workflows/fails.yaml\ndescription: a failing task\n",
		"actions/gated.yaml": "name: gated\nrunner_type: orquesta\nentry_point: workflows/gated.yaml\ndescription: waits for a file\n" +
			"parameters:\n  gate: {type: string, required: true}\n",
		"actions/workflows/pair.yaml": `version: 1.0
tasks:
  one:
    action: core.echo message="first"
    next:
      - when: <% succeeded() %>
        do: two
  two:
    action: core.echo message="second"
`,
		"actions/workflows/fails.yaml": `version: 1.0
tasks:
  boom:
    action: core.local cmd="false"
`,
		"actions/workflows/gated.yaml": `version: 1.0
input:
  - gate
tasks:
  wait:
    action: core.local
    input:
      cmd: while [ ! -f <% ctx(gate) %> ]; do sleep 0.05; done; echo opened
    next:
      - when: <% succeeded() %>
        do: after
  after:
    action: core.echo message="after"
`,
	}
}

// workflowTasks is `execution get -o json`'s workflow.
type workflowTasks struct {
	ID       string
	Status   string
	Workflow *struct {
		Status   string
		Language string
		Tasks    []struct {
			Name      string
			Status    string
			Attempt   int
			Execution *struct{ ID, Status string }
		}
	}
}

func TestCLIWorkflows(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		ok(t, s, nil, "pack", "install", writeTree(t, cliWorkflowPack()))

		// run follows the workflow: each task's transitions, each child's
		// output prefixed with its task, exit 0 once it succeeded.
		r := ok(t, s, nil, "run", "wfcli.pair")
		require.Regexp(t, `(?m)^task one \[#\d+\] RUNNING$`, r.stderr)
		require.Regexp(t, `(?m)^task one \[#\d+\] SUCCEEDED$`, r.stderr)
		require.Regexp(t, `(?m)^task two \[#\d+\] SUCCEEDED$`, r.stderr)
		require.Regexp(t, `(?m)^workflow \d+: SUCCEEDED$`, r.stderr)
		require.Contains(t, r.stdout, "[one] first\n")
		require.Contains(t, r.stdout, "[two] second\n")
		wfID := regexp.MustCompile(`(?m)^workflow (\d+): SUCCEEDED$`).FindStringSubmatch(r.stderr)[1]

		// get -o json includes the workflow and its tasks' executions; the
		// table lists the tasks below the execution.
		var got workflowTasks
		jsonOut(t, s, &got, "execution", "get", wfID)
		require.Equal(t, "SUCCEEDED", got.Status)
		require.NotNil(t, got.Workflow)
		require.Equal(t, "orquesta", got.Workflow.Language)
		require.Len(t, got.Workflow.Tasks, 2)
		for i, name := range []string{"one", "two"} {
			task := got.Workflow.Tasks[i]
			require.Equal(t, name, task.Name)
			require.Equal(t, "SUCCEEDED", task.Status)
			require.NotNil(t, task.Execution)
			require.Equal(t, "SUCCEEDED", task.Execution.Status)
			var child map[string]any
			jsonOut(t, s, &child, "execution", "get", task.Execution.ID)
			require.NotContains(t, child, "workflow", "a plain execution has none")
		}
		table := ok(t, s, nil, "execution", "get", wfID).stdout
		require.Regexp(t, `(?m)^TASK +ITEM +ATTEMPT +STATUS +EXECUTION$`, table)
		require.Regexp(t, `(?m)^one +0 +SUCCEEDED +`+got.Workflow.Tasks[0].Execution.ID+`$`, table)
		// -o json of run prints the finished workflow.
		var ran workflowTasks
		jsonOut(t, s, &ran, "run", "wfcli.pair")
		require.Equal(t, "SUCCEEDED", ran.Status)
		require.Len(t, ran.Workflow.Tasks, 2)

		// rerun runs a workflow again and follows it; a plain execution
		// again with a parameter overridden.
		r = ok(t, s, nil, "execution", "rerun", wfID)
		require.Contains(t, r.stdout, "[two] second\n")
		r = ok(t, s, nil, "execution", "rerun", got.Workflow.Tasks[0].Execution.ID, "message=again")
		require.Equal(t, "again\n", r.stdout)
		require.Equal(t, cli.ExitNotFound, attune(t, s, nil, "execution", "rerun", "999999").code)
		// --task re-runs a workflow from a task, keeping the rest: only two runs.
		r = ok(t, s, nil, "execution", "rerun", wfID, "--task", "two")
		require.Contains(t, r.stdout, "[two] second\n")
		require.NotContains(t, r.stdout, "[one] first\n")
		require.Regexp(t, `(?m)^workflow \d+: SUCCEEDED$`, r.stderr)
		require.Equal(t, cli.ExitUsage, attune(t, s, nil, "execution", "rerun", wfID, "--task", "nope").code)

		// A failed task fails the workflow: the failure exit code.
		r = attune(t, s, nil, "run", "wfcli.fails")
		require.Equal(t, cli.ExitFailed, r.code)
		require.Regexp(t, `(?m)^task boom \[#\d+\] FAILED`, r.stderr)
		require.Regexp(t, `(?m)^workflow \d+: FAILED$`, r.stderr)

		// Pause while a task runs (PAUSING), let it end (PAUSED: the next
		// task is held back), resume; tail follows all of it.
		gate := filepath.Join(t.TempDir(), "gate")
		id := strings.TrimSpace(ok(t, s, nil, "run", "wfcli.gated", "gate="+gate, "--async").stdout)
		tail := cliCmd(t, s, nil, "execution", "tail", id)
		var tailOut bytes.Buffer
		tail.Stdout = &tailOut
		stderr, err := tail.StderrPipe()
		require.NoError(t, err)
		require.NoError(t, tail.Start())
		lines := bufio.NewScanner(stderr)
		var seen []string
		waitLine := func(re string) {
			t.Helper()
			rx := regexp.MustCompile(re)
			for lines.Scan() {
				seen = append(seen, lines.Text())
				if rx.MatchString(lines.Text()) {
					return
				}
			}
			t.Fatalf("tail ended without %q; it printed:\n%s", re, strings.Join(seen, "\n"))
		}
		waitLine(`^task wait \[#\d+\] RUNNING$`)
		var paused map[string]any
		jsonOut(t, s, &paused, "execution", "pause", id)
		require.Equal(t, "PAUSING", paused["status"])
		waitLine(`^workflow ` + id + `: PAUSING$`)
		require.Equal(t, cli.ExitConflict, attune(t, s, nil, "execution", "resume", wfID).code, "a finished workflow")
		require.NoError(t, os.WriteFile(gate, nil, 0o600))
		waitLine(`^workflow ` + id + `: PAUSED$`)
		jsonOut(t, s, &got, "execution", "get", id)
		require.Equal(t, "PAUSED", got.Status)
		require.Equal(t, "SUCCEEDED", got.Workflow.Tasks[0].Status)
		for _, task := range got.Workflow.Tasks[1:] {
			require.Nil(t, task.Execution, "%s is held back", task.Name)
		}
		ok(t, s, nil, "execution", "resume", id)
		waitLine(`^task after \[#\d+\] SUCCEEDED$`)
		waitLine(`^workflow ` + id + `: SUCCEEDED$`)
		for lines.Scan() {
			seen = append(seen, lines.Text())
		}
		require.NoError(t, tail.Wait(), strings.Join(seen, "\n"))
		require.Contains(t, tailOut.String(), "[wait] opened\n")
		require.Contains(t, tailOut.String(), "[after] after\n")

		// Errors: pausing what is no running workflow, or nothing.
		require.Equal(t, cli.ExitConflict, attune(t, s, nil, "execution", "pause", id).code)
		require.Equal(t, cli.ExitConflict, attune(t, s, nil, "execution", "pause", got.Workflow.Tasks[0].Execution.ID).code)
		require.Equal(t, cli.ExitNotFound, attune(t, s, nil, "execution", "pause", "999999").code)
		require.Equal(t, cli.ExitNotFound, attune(t, s, nil, "execution", "resume", "999999").code)
	})
}

// cliAskPack is an Orquesta workflow that asks before it deploys.
func cliAskPack() map[string]string {
	return map[string]string{
		"pack.yaml":           "name: askcli\nref: askcli\nversion: 1.0.0\ndescription: CLI inquiries\nauthor: tests\n",
		"actions/deploy.yaml": "name: deploy\nrunner_type: orquesta\nentry_point: workflows/deploy.yaml\ndescription: asks, then deploys\n",
		"actions/workflows/deploy.yaml": `version: 1.0
tasks:
  ask:
    action: core.ask
    input:
      prompt: Deploy to production?
      schema:
        type: object
        properties:
          approved: {type: boolean, required: true, description: go ahead}
          note: {type: string}
    next:
      - when: <% succeeded() and result().response.approved %>
        do: ship
  ship:
    action: core.echo message="shipping"
`,
	}
}

// cliAskAttunePack asks in attune's own workflow format.
func cliAskAttunePack() map[string]string {
	return map[string]string{
		"pack.yaml":             "ref: askatt\nversion: 1.0.0\nlabel: CLI inquiries in attune's format\n",
		"actions/rollback.yaml": "ref: askatt.rollback\nworkflow_file: workflows/rollback.workflow.yaml\n",
		"actions/workflows/rollback.workflow.yaml": `version: "1.0.0"
tasks:
  - name: ask
    action: core.ask
    input:
      prompt: Roll back?
      schema: {type: object, properties: {approved: {type: boolean, required: true}, reason: {type: string}}}
    next:
      - when: "{{ succeeded() and result().response.approved }}"
        do: [roll]
  - name: roll
    action: core.echo
    input: {message: "rolling back: {{ task.ask.result.response.reason }}"}
`,
	}
}

type cliInquiry struct {
	ID, Status, Prompt, TaskName, WorkflowID, ExecutionID, RespondedBy string
	Response                                                           map[string]any
}

// TestCLIInquiries: a workflow asks (core.ask); `inquiry list` shows the
// question, `inquiry respond` answers it typed by its response schema and
// the workflow goes on; a second answer is a conflict, a wrong one a usage
// error, one from a token that may not answer an auth error.
func TestCLIInquiries(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		ok(t, s, nil, "pack", "install", writeTree(t, cliAskPack()))

		pending := func(wf string) cliInquiry {
			var found *cliInquiry
			eventually(t, cliTimeout, "the workflow's inquiry", func() bool {
				var list []cliInquiry
				jsonOut(t, s, &list, "inquiry", "list", "--status", "pending")
				for _, q := range list {
					if q.WorkflowID == wf {
						found = &q
					}
				}
				return found != nil
			})
			return *found
		}
		wf := strings.TrimSpace(ok(t, s, nil, "run", "askcli.deploy", "--async").stdout)
		q := pending(wf)
		require.Equal(t, "PENDING", q.Status)
		require.Equal(t, "Deploy to production?", q.Prompt)
		require.Equal(t, "ask", q.TaskName)

		table := ok(t, s, nil, "inquiry", "list").stdout
		require.Regexp(t, `(?m)^ID +STATUS +PROMPT +TASKNAME +WORKFLOWID +EXECUTIONID +TIMEOUTAT$`, table)
		require.Regexp(t, `(?m)^`+q.ID+` +PENDING +Deploy to production\? +ask +`+wf+` +`+q.ExecutionID+` `, table)
		require.Contains(t, ok(t, s, nil, "__complete", "inquiry", "respond", "").stdout, q.ID+"\tDeploy to production?\n",
			"pending inquiries complete with their prompts")
		got := ok(t, s, nil, "inquiry", "get", q.ID).stdout
		require.Regexp(t, `(?m)^prompt +Deploy to production\?$`, got)
		require.Regexp(t, `(?m)^approved +boolean +true +go ahead$`, got, "the response's fields, as run --help lists parameters")
		require.Regexp(t, `(?m)^assignedTo +anyone with OPERATOR$`, got, "who may answer, in words")

		// Refused answers: not a boolean (the client types it), not valid
		// for the schema (the server says which field), a VIEWER's.
		require.Equal(t, cli.ExitUsage, attune(t, s, nil, "inquiry", "respond", q.ID, "approved=maybe").code)
		r := attune(t, s, nil, "inquiry", "respond", q.ID, "-d", `{"note": "no approval"}`)
		require.Equal(t, cli.ExitUsage, r.code)
		require.Contains(t, r.stderr, "BAD_USER_INPUT")
		require.Equal(t, 1, strings.Count(r.stderr, "approved:"), "each field's problem once: %s", r.stderr)
		require.Equal(t, cli.ExitUsage, attune(t, s, nil, "inquiry", "respond", q.ID).code, "no response")
		viewer := []string{"ATTUNE_TOKEN=" + strings.TrimSpace(ok(t, s, nil, "token", "create", "v", "--role", "viewer").stdout)}
		require.Equal(t, cli.ExitAuth, attune(t, s, viewer, "inquiry", "respond", q.ID, "approved=true").code)

		var answered cliInquiry
		jsonOut(t, s, &answered, "inquiry", "respond", q.ID, "approved=true", "note=ship it")
		require.Equal(t, "RESPONDED", answered.Status)
		require.Equal(t, map[string]any{"approved": true, "note": "ship it"}, answered.Response)
		require.NotEmpty(t, answered.RespondedBy)
		// The workflow goes on and succeeds.
		r = ok(t, s, nil, "execution", "tail", wf)
		require.Contains(t, r.stdout, "[ship] shipping\n")
		require.Regexp(t, `(?m)^workflow \d+: SUCCEEDED$`, r.stderr)

		r = attune(t, s, nil, "inquiry", "respond", q.ID, "approved=false")
		require.Equal(t, cli.ExitConflict, r.code, "exactly one answer wins")
		require.Contains(t, r.stderr, "CONFLICT")
		var responded []cliInquiry
		jsonOut(t, s, &responded, "inquiry", "list", "--status", "RESPONDED")
		require.Len(t, responded, 1)
		require.Equal(t, q.ID, responded[0].ID)
		require.Equal(t, cli.ExitUsage, attune(t, s, nil, "inquiry", "list", "--status", "answered").code)

		// The whole response as JSON from a file; then cancel one.
		wf2 := strings.TrimSpace(ok(t, s, nil, "run", "askcli.deploy", "--async").stdout)
		q2 := pending(wf2)
		var canceled cliInquiry
		jsonOut(t, s, &canceled, "inquiry", "cancel", q2.ID)
		require.Equal(t, "CANCELED", canceled.Status)
		require.NotEqual(t, 0, attune(t, s, nil, "execution", "tail", wf2).code, "a canceled task ends its workflow")
		require.Equal(t, cli.ExitConflict, attune(t, s, nil, "inquiry", "respond", q2.ID, "approved=true").code)

		wf3 := strings.TrimSpace(ok(t, s, nil, "run", "askcli.deploy", "--async").stdout)
		q3 := pending(wf3)
		body := filepath.Join(t.TempDir(), "answer.json")
		require.NoError(t, os.WriteFile(body, []byte(`{"approved": true}`), 0o600))
		jsonOut(t, s, &answered, "inquiry", "respond", q3.ID, "--data", "@"+body)
		require.Equal(t, "RESPONDED", answered.Status)
		ok(t, s, nil, "execution", "tail", wf3)

		// attune's own workflow format; the asking execution's id names the
		// inquiry too (StackStorm's inquiry id).
		// It is assigned to this token's name and the OPERATOR role.
		pack := cliAskAttunePack()
		pack["actions/workflows/rollback.workflow.yaml"] = strings.Replace(pack["actions/workflows/rollback.workflow.yaml"],
			"prompt: Roll back?", "prompt: Roll back?\n      users: ["+answered.RespondedBy+", oncall]\n      roles: [OPERATOR]", 1)
		ok(t, s, nil, "pack", "install", writeTree(t, pack))
		wf4 := strings.TrimSpace(ok(t, s, nil, "run", "askatt.rollback", "--async").stdout)
		q4 := pending(wf4)
		require.Equal(t, "Roll back?", q4.Prompt)
		require.Regexp(t, `(?m)^assignedTo +users: `+regexp.QuoteMeta(answered.RespondedBy)+`, oncall; roles: OPERATOR$`,
			ok(t, s, nil, "inquiry", "get", q4.ID).stdout)
		require.Contains(t, ok(t, s, nil, "inquiry", "get", q4.ID, "-o", "json").stdout, `"roles": [`, "JSON keeps the lists")
		var byExecution cliInquiry
		jsonOut(t, s, &byExecution, "inquiry", "respond", q4.ExecutionID, "approved=yes", "reason=bad release")
		require.Equal(t, q4.ID, byExecution.ID)
		require.Equal(t, map[string]any{"approved": true, "reason": "bad release"}, byExecution.Response)
		r = ok(t, s, nil, "execution", "tail", wf4)
		require.Contains(t, r.stdout, "[roll] rolling back: bad release\n")

		require.Equal(t, cli.ExitNotFound, attune(t, s, nil, "inquiry", "get", "999999").code)
	})
}
