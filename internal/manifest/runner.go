package manifest

import (
	_ "embed"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/attune-io/attune/internal/param"
)

// RunnerType says how a worker runs an action or sensor; it selects the runner and its
// per-pack environment (virtualenv, node_modules). It is the family; Action.RunnerName keeps
// the runner_type as the pack wrote it, which selects StackStorm's conventions.
type RunnerType string

// Runner types. RunnerLocal runs the action's `cmd` parameter through the shell and so needs
// no entry point. RunnerWorkflow marks workflow actions (attune's workflow_file, StackStorm's
// orquesta and action-chain). The others are StackStorm runner families that run inside the
// worker rather than as a pack process.
const (
	RunnerShell        RunnerType = "shell"
	RunnerPython       RunnerType = "python"
	RunnerNode         RunnerType = "node"
	RunnerNative       RunnerType = "native"
	RunnerLocal        RunnerType = "local"
	RunnerWorkflow     RunnerType = "workflow"
	RunnerHTTP         RunnerType = "http"
	RunnerNoop         RunnerType = "noop"
	RunnerRemote       RunnerType = "remote"
	RunnerAnnouncement RunnerType = "announcement"
	RunnerInquiry      RunnerType = "inquiry"
	RunnerWinRM        RunnerType = "winrm"
)

// StackStorm runner names (runner_type values of StackStorm packs).
const (
	St2PythonScript     = "python-script"
	St2LocalShellScript = "local-shell-script"
	St2LocalShellCmd    = "local-shell-cmd"
	St2RemoteShellCmd   = "remote-shell-cmd"
	St2RemoteShellScrpt = "remote-shell-script"
	St2HTTPRequest      = "http-request"
	St2Noop             = "noop"
	St2Announcement     = "announcement"
	St2Inquirer         = "inquirer"
	St2Orquesta         = "orquesta"
	St2ActionChain      = "action-chain"
	St2WinRMCmd         = "winrm-cmd"
	St2WinRMPsCmd       = "winrm-ps-cmd"
	St2WinRMPsScript    = "winrm-ps-script"
)

// AttuneInjectTrigger is attune's runner of core.inject_trigger, which
// emits an event of a trigger from inside the worker (StackStorm's action is
// a Python script posting to its webhook API).
const AttuneInjectTrigger = "inject-trigger"

// ParseRunnerType maps a runner_type spelling to its family and its canonical name: attune's
// own names (shell, python, node, native, local) and aliases, and every StackStorm runner type,
// so StackStorm packs load unchanged. The name is what the worker dispatches StackStorm
// conventions on; for attune's own runners it is the family's name.
func ParseRunnerType(s string) (RunnerType, string, error) {
	name := strings.ToLower(s)
	switch name {
	case "shell", "run-local-script":
		return RunnerShell, "shell", nil
	case "python", "python3":
		return RunnerPython, "python", nil
	case "node", "nodejs":
		return RunnerNode, "node", nil
	case "native":
		return RunnerNative, "native", nil
	case "local", "run-local":
		return RunnerLocal, "local", nil
	case St2PythonScript:
		return RunnerPython, name, nil
	case St2LocalShellScript:
		return RunnerShell, name, nil
	case St2LocalShellCmd:
		return RunnerLocal, name, nil
	case St2RemoteShellCmd, St2RemoteShellScrpt, "remote-shell", "run-remote", "run-remote-script":
		if name == "remote-shell" || name == "run-remote" {
			name = St2RemoteShellCmd
		} else if name == "run-remote-script" {
			name = St2RemoteShellScrpt
		}
		return RunnerRemote, name, nil
	case St2HTTPRequest, "http-runner":
		return RunnerHTTP, St2HTTPRequest, nil
	case St2Noop:
		return RunnerNoop, name, nil
	case St2Announcement:
		return RunnerAnnouncement, name, nil
	case AttuneInjectTrigger:
		// attune's own: core.inject_trigger emits an event from the worker.
		return RunnerAnnouncement, name, nil
	case St2Inquirer:
		return RunnerInquiry, name, nil
	case St2Orquesta, St2ActionChain, "mistral-v2":
		return RunnerWorkflow, name, nil
	case St2WinRMCmd, St2WinRMPsCmd, St2WinRMPsScript:
		return RunnerWinRM, name, nil
	}
	return "", "", fmt.Errorf("unknown runner type %q (want shell, python, node, native, local or a StackStorm runner: %s)",
		s, strings.Join(St2RunnerNames(), ", "))
}

// NeedsEntryPoint reports whether actions of the runner name an entry_point file.
func NeedsEntryPoint(family RunnerType, name string) bool {
	switch family {
	case RunnerShell, RunnerPython, RunnerNode, RunnerNative, RunnerWorkflow:
		return true
	case RunnerRemote, RunnerWinRM:
		return name == St2RemoteShellScrpt || name == St2WinRMPsScript
	}
	return false
}

//go:embed st2runners.yaml
var st2RunnersYAML []byte

var st2Runners = sync.OnceValue(func() map[string]param.Schema {
	var raw map[string]map[string]any
	if err := yaml.Unmarshal(st2RunnersYAML, &raw); err != nil {
		panic(fmt.Sprintf("st2runners.yaml: %v", err))
	}
	out := make(map[string]param.Schema, len(raw))
	for name, params := range raw {
		s, err := param.ParseSchema(params)
		if err != nil {
			panic(fmt.Sprintf("st2runners.yaml: %s: %v", name, err))
		}
		out[name] = s
	}
	return out
})

// St2RunnerNames lists the StackStorm runner types attune knows, sorted.
func St2RunnerNames() []string { return slices.Sorted(maps.Keys(st2Runners())) }

// RunnerParameters returns the parameters a StackStorm runner declares for every action of
// that runner (cmd, cwd, env, sudo, timeout, kwarg_op, …); nil for attune's own runners.
// The result is a copy the caller may change.
func RunnerParameters(name string) param.Schema {
	s, ok := st2Runners()[name]
	if !ok {
		return nil
	}
	return maps.Clone(s)
}

// mergeRunnerParameters lays an action's parameters over its runner's, as StackStorm does:
// the action may declare a runner parameter again to change its attributes (default,
// immutable, description…); what it leaves out keeps the runner's value.
func mergeRunnerParameters(runner, action param.Schema, rawAction map[string]any) param.Schema {
	if len(runner) == 0 {
		return action
	}
	out := runner
	for name, spec := range action {
		base, ok := out[name]
		if !ok {
			out[name] = spec
			continue
		}
		given, _ := rawAction[name].(map[string]any)
		if _, ok := given["type"]; ok {
			base.Type = spec.Type
			base.Items = spec.Items
		}
		if _, ok := given["description"]; ok {
			base.Description = spec.Description
		}
		if _, ok := given["default"]; ok {
			base.Default = spec.Default
		}
		if _, ok := given["required"]; ok {
			base.Required = spec.Required
		}
		if _, ok := given["enum"]; ok {
			base.Enum = spec.Enum
		}
		if _, ok := given["secret"]; ok {
			base.Secret = spec.Secret
		}
		if _, ok := given["immutable"]; ok {
			base.Immutable = spec.Immutable
		}
		if _, ok := given["position"]; ok {
			base.Position = spec.Position
		}
		if spec.Minimum != nil {
			base.Minimum = spec.Minimum
		}
		if spec.Maximum != nil {
			base.Maximum = spec.Maximum
		}
		out[name] = base
	}
	return out
}

// ArgvSecrets lists, sorted, the secret parameters of an action that its
// runner passes to the script as command-line arguments (StackStorm's
// local-shell-script and remote-shell-script convention), where any user of
// the host can read them. The runner's own secrets (sudo_password,
// password…) never go there.
func ArgvSecrets(runnerName string, schema param.Schema) []string {
	if runnerName != St2LocalShellScript && runnerName != St2RemoteShellScrpt {
		return nil
	}
	own := RunnerParameters(runnerName)
	var names []string
	for _, name := range schema.SecretNames() {
		if _, ok := own[name]; !ok {
			names = append(names, name)
		}
	}
	return names
}
