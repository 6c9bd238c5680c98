package runner_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/runner"
)

// TestScriptRunner runs entry points as StackStorm's local-shell-script
// runner does: through their #! line, with Args after them, nothing on
// stdin, in the working directory asked for.
func TestScriptRunner(t *testing.T) {
	t.Parallel()
	printArgs := `for a in "$@"; do printf '[%s]' "$a"; done; echo; echo "pwd=$(pwd)"; echo "stdin=$(cat)"`
	pack := newPack(t, map[string]string{
		"actions/bash.sh":    "#!/bin/bash\n" + printArgs + "\necho shell=${BASH_VERSION:+bash}\n",
		"actions/env.sh":     "#!/usr/bin/env bash\n" + printArgs + "\n",
		"actions/noshebang":  printArgs + "\n",
		"actions/plain.txt":  "#!/bin/sh\n" + printArgs + "\n", // not executable
		"actions/missing.sh": "#!/no/such/interpreter\n",
		"actions/arg.sh":     "#!/bin/sh -e\nfalse\necho not reached\n",
		"sub/.keep.txt":      "",
	})
	run := func(t *testing.T, req runner.Request) (runner.Result, error) {
		req.Runner, req.PackDir, req.Delivery = runner.Script, pack, runner.DeliveryNone
		return runner.Run(context.Background(), withTestDefaults(t, req))
	}
	args := []string{"--name=a b", "--flag", "it's $(id)", ""}
	for _, entry := range []string{"actions/bash.sh", "actions/env.sh", "actions/noshebang", "actions/plain.txt"} {
		t.Run(entry, func(t *testing.T) {
			t.Parallel()
			res, err := run(t, runner.Request{EntryPoint: entry, Args: args, Parameters: map[string]any{"secret": "x"}})
			require.NoError(t, err)
			require.Equal(t, 0, res.ExitCode, res.Stderr)
			lines := strings.Split(res.Stdout, "\n")
			require.Equal(t, "[--name=a b][--flag][it's $(id)][]", lines[0])
			require.Equal(t, "pwd="+pack, lines[1])
			require.Equal(t, "stdin=", lines[2], "StackStorm's runners give a script nothing on stdin")
			if entry == "actions/bash.sh" {
				require.Equal(t, "shell=bash", lines[3], "run by bash, as its #! line says")
			}
		})
	}
	t.Run("the #! argument is passed", func(t *testing.T) {
		t.Parallel()
		res, err := run(t, runner.Request{EntryPoint: "actions/arg.sh"})
		require.NoError(t, err)
		require.Equal(t, 1, res.ExitCode)
		require.Empty(t, res.Stdout)
	})
	t.Run("cwd", func(t *testing.T) {
		t.Parallel()
		res, err := run(t, runner.Request{EntryPoint: "actions/bash.sh", Dir: "sub"})
		require.NoError(t, err)
		require.Contains(t, res.Stdout, "pwd="+filepath.Join(pack, "sub")+"\n")
		dir := t.TempDir()
		res, err = run(t, runner.Request{EntryPoint: "actions/bash.sh", Dir: dir})
		require.NoError(t, err)
		require.Contains(t, res.Stdout, "pwd="+dir+"\n")
	})
	for name, tt := range map[string]struct {
		req  runner.Request
		want string
	}{
		"missing interpreter": {runner.Request{EntryPoint: "actions/missing.sh"}, "interpreter /no/such/interpreter of missing.sh not found"},
		"missing cwd":         {runner.Request{EntryPoint: "actions/bash.sh", Dir: "/no/such/dir"}, "working directory /no/such/dir (cwd) does not exist"},
		"missing entry point": {runner.Request{EntryPoint: "actions/nope.sh"}, "entry point actions/nope.sh not found"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := run(t, tt.req)
			var pe *runner.PrepareError
			require.True(t, errors.As(err, &pe), "%v", err)
			require.Contains(t, pe.Error(), tt.want)
		})
	}
}

// TestSudoAsRoot: sudo makes a command run as root; a worker that is root
// runs it directly when sudo is not installed, and through sudo when it is.
func TestSudoAsRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("the worker is not root; sudoCommand's table test covers this case")
	}
	pack := newPack(t, map[string]string{"actions/id.sh": "#!/bin/sh\nid -u\necho \"$FROM_ENV\"\n"})
	res, err := runner.Run(context.Background(), withTestDefaults(t, runner.Request{
		Runner: runner.Script, PackDir: pack, EntryPoint: "actions/id.sh", Delivery: runner.DeliveryNone,
		Sudo: true, Env: map[string]string{"FROM_ENV": "kept"},
	}))
	require.NoError(t, err)
	require.Equal(t, "0\nkept\n", res.Stdout, res.Stderr)
	res, err = runner.Run(context.Background(), withTestDefaults(t, runner.Request{
		Runner: runner.Local, PackDir: pack, Delivery: runner.DeliveryNone, Sudo: true,
		Parameters: map[string]any{"cmd": "id -u; echo ${BASH_VERSION:+bash}"},
	}))
	require.NoError(t, err)
	require.Equal(t, "0\nbash\n", res.Stdout, res.Stderr)
}
