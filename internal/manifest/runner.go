package manifest

import (
	"fmt"
	"strings"
)

// RunnerType says how a worker runs an action or sensor; it selects the runner and its
// per-pack environment (virtualenv, node_modules).
type RunnerType string

// Runner types. RunnerLocal runs the action's `cmd` parameter through the shell and so needs
// no entry point. RunnerWorkflow marks actions defined by a workflow_file; ParseRunnerType
// never returns it because a workflow is declared by its file, not by a runner_type.
const (
	RunnerShell    RunnerType = "shell"
	RunnerPython   RunnerType = "python"
	RunnerNode     RunnerType = "node"
	RunnerNative   RunnerType = "native"
	RunnerLocal    RunnerType = "local"
	RunnerWorkflow RunnerType = "workflow"
)

// ParseRunnerType maps a runner_type spelling, including the common StackStorm names
// (python-script, local-shell-script, local-shell-cmd, run-local) and nodejs/python3
// aliases, to its RunnerType, so StackStorm packs load unchanged.
func ParseRunnerType(s string) (RunnerType, error) {
	switch strings.ToLower(s) {
	case "shell", "local-shell-script", "run-local-script":
		return RunnerShell, nil
	case "python", "python3", "python-script":
		return RunnerPython, nil
	case "node", "nodejs":
		return RunnerNode, nil
	case "native":
		return RunnerNative, nil
	case "local", "local-shell-cmd", "run-local":
		return RunnerLocal, nil
	}
	return "", fmt.Errorf("unknown runner type %q (want shell, python, node, native or local)", s)
}
