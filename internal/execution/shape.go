package execution

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/internal/runner"
)

// runnerName is the action's runner as the pack wrote it ("python-script",
// "local-shell-cmd", …, or attune's own "shell", "python"…); "" when the
// action is gone.
func runnerName(act *ent.Action) string {
	if act == nil {
		return ""
	}
	if act.RunnerName != "" {
		return act.RunnerName
	}
	return strings.ToLower(string(act.RunnerType))
}

// shapeResult is the execution's result for a finished process. StackStorm's
// runners give their documented shapes, so that packs, workflows and rules
// written for StackStorm read result.stdout, result.result… where they expect
// them; attune's own runners give the JSON the action printed, or its stdout.
func shapeResult(runnerName string, res runner.Result, timeoutSeconds int) any {
	switch runnerName {
	case "python-script":
		// StackStorm's python runner: {result, stdout, stderr, exit_code}.
		return st2PythonResult(res)
	case "local-shell-cmd", "local-shell-script":
		return localResult(res, timeoutSeconds)
	}
	if res.Result != nil {
		return res.Result
	}
	return strings.TrimRight(res.Stdout, "\n")
}

// localResult is StackStorm's local runner result (local_runner/base.py):
// {stdout, stderr, return_code, succeeded, failed}, plus error on timeout.
// Each stream loses one trailing newline (strip_shell_chars) and is then
// read as JSON when it is JSON (jsonify.json_loads), so a script that
// prints {"a": 1} or 42 gives an object or a number. A timed-out run
// has return code -9 (StackStorm's SIGKILL code); one a signal ended, minus
// the signal, as Python reports it.
func localResult(res runner.Result, timeoutSeconds int) map[string]any {
	code := res.ExitCode
	if res.Signal != 0 {
		code = -res.Signal
	}
	out := map[string]any{
		"stdout": jsonOrText(stripShellChars(res.Stdout)),
		"stderr": jsonOrText(stripShellChars(res.Stderr)),
	}
	if res.TimedOut {
		code = -9
		out["error"] = fmt.Sprintf("Action failed to complete in %d seconds", timeoutSeconds)
	}
	out["return_code"] = code
	out["succeeded"] = code == 0 && !res.Canceled
	out["failed"] = !(code == 0 && !res.Canceled)
	return out
}

// stripShellChars drops one trailing "\n", then one trailing "\r".
func stripShellChars(s string) string {
	return strings.TrimSuffix(strings.TrimSuffix(s, "\n"), "\r")
}

// jsonOrText is s decoded when it is one JSON value, else s.
func jsonOrText(s string) any {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return s
	}
	if _, err := dec.Token(); err != io.EOF {
		return s
	}
	return v
}
