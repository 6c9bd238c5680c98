package execution

import (
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
func shapeResult(runnerName string, res runner.Result) any {
	switch runnerName {
	case "python-script":
		// StackStorm's python runner: {result, stdout, stderr, exit_code}.
		return st2PythonResult(res)
	case "local-shell-cmd", "local-shell-script":
		// StackStorm's local runner: {stdout, stderr, return_code, succeeded, failed}.
		return map[string]any{
			"stdout":      strings.TrimRight(res.Stdout, "\n"),
			"stderr":      strings.TrimRight(res.Stderr, "\n"),
			"return_code": res.ExitCode,
			"succeeded":   res.ExitCode == 0 && !res.TimedOut && !res.Canceled,
			"failed":      res.ExitCode != 0 || res.TimedOut || res.Canceled,
		}
	}
	if res.Result != nil {
		return res.Result
	}
	return strings.TrimRight(res.Stdout, "\n")
}
