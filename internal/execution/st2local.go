package execution

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/internal/manifest"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/runner"
	"github.com/attune-io/attune/internal/st2shell"
)

// st2Local sets up req for StackStorm's local runners from the execution's
// parameters: local-shell-cmd runs the runner's cmd, local-shell-script
// runs the entry point with the action's parameters as argv words
// (st2shell.ScriptArgs). The runner's own parameters (cwd, env, sudo,
// sudo_password, kwarg_op) shape the run and are never arguments; neither
// runner gives the action anything on stdin.
func st2Local(req *runner.Request, act *ent.Action, params map[string]any) error {
	name := act.RunnerName
	own := manifest.RunnerParameters(name)
	req.Delivery = runner.DeliveryNone
	switch name {
	case manifest.St2LocalShellCmd:
		req.Runner = runner.Local
	case manifest.St2LocalShellScript:
		schema, err := param.ParseSchema(act.Parameters)
		if err != nil {
			return &runner.PrepareError{Cause: fmt.Sprintf("action %s has an invalid parameter schema: %v", act.Ref, err)}
		}
		kwargOp := st2shell.DefaultKwargOp
		if op, ok := params["kwarg_op"].(string); ok {
			kwargOp = op
		}
		isOwn := make(map[string]bool, len(own))
		for n := range own {
			isOwn[n] = true
		}
		req.Runner = runner.Script
		req.Args = st2shell.ScriptArgs(schema, isOwn, params, kwargOp)
	default:
		return &runner.PrepareError{Cause: fmt.Sprintf("runner %s is not a local runner", name)}
	}
	if cwd, ok := params["cwd"].(string); ok {
		req.Dir = cwd
	}
	req.Sudo, _ = params["sudo"].(bool)
	req.SudoPassword, _ = params["sudo_password"].(string)
	vars := map[string]string{}
	env, _ := params["env"].(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return &runner.PrepareError{Cause: fmt.Sprintf("env: %q is not a valid environment variable name", k)}
		}
		v := st2shell.PyStr(env[k])
		if strings.ContainsRune(v, 0) {
			return &runner.PrepareError{Cause: fmt.Sprintf("env: the value of %s holds a NUL byte", k)}
		}
		vars[k] = v
	}
	// StackStorm's ST2_ACTION_* variables and attune's own win over the
	// action's env, as StackStorm's do.
	debug, _ := params["debug"].(bool)
	vars["ST2_ACTION_PACK_NAME"] = act.PackRef
	vars["ST2_ACTION_EXECUTION_ID"] = req.Env["ATTUNE_EXECUTION_ID"]
	vars["ST2_ACTION_DEBUG"] = st2shell.PyStr(debug)
	maps.Copy(vars, req.Env)
	req.Env = vars
	return nil
}
