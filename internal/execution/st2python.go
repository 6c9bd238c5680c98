package execution

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/internal/manifest"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/runner"
	"github.com/attune-io/attune/internal/st2compat"
)

// ActionTokenFunc mints the token a StackStorm Python action's
// action_service uses for the key/value store: valid until expires, limited
// to the execution's pack and to the key/value store. release ends it; the
// worker calls it when the run is over.
type ActionTokenFunc func(ctx context.Context, executionID int, pack string, expires time.Time) (token string, release func(), err error)

// tokenSecret is the name under which the run's token joins the execution's
// secrets, so that an action printing it has it redacted like any secret.
const tokenSecret = "\x00action_token"

// st2Python completes req for a StackStorm python-script action: attune's
// wrapper runs the entry point, gets every parameter the action declares
// (nil when absent, none of the runner's), the pack's config and the run's
// token on stdin or in the 0400 parameter file, never in argv or the
// environment, and hands run()'s outcome back on file descriptor 3. Other
// actions are left alone. release, never nil, ends the token.
func (w *Worker) st2Python(ctx context.Context, c *claimed, req *runner.Request) (release func(), err error) {
	release = func() {}
	if runnerName(c.action) != manifest.St2PythonScript {
		return release, nil
	}
	e := c.exec
	if w.opts.St2PythonDir == "" {
		return release, &runner.PrepareError{Cause: "the StackStorm compatibility package is not installed on this worker"}
	}
	act, err := w.svc.db.Ent.Action.Query().Where(action.Ref(e.ActionRef)).WithPack().Only(ctx)
	if ent.IsNotFound(err) {
		return release, &runner.PrepareError{Cause: fmt.Sprintf("action %s no longer exists", e.ActionRef)}
	}
	if err != nil {
		return release, fmt.Errorf("loading action %s: %w", e.ActionRef, err)
	}
	schema, err := param.ParseSchema(act.Parameters)
	if err != nil {
		return release, &runner.PrepareError{Cause: fmt.Sprintf("action %s has an invalid parameter schema: %v", act.Ref, err)}
	}
	given := req.Parameters
	pack := act.Edges.Pack
	config, err := PackConfig(pack)
	if err != nil {
		return release, &runner.PrepareError{Cause: err.Error()}
	}
	logLevel, _ := given["log_level"].(string)
	envelope := map[string]any{
		"parameters":   st2ActionParameters(schema, given),
		"config":       config,
		"pack":         act.PackRef,
		"action":       act.Ref,
		"execution_id": e.ID,
		"log_level":    logLevel,
		"api_url":      w.opts.APIURL,
	}
	if w.opts.ActionTokens != nil {
		timeout := req.Timeout
		if timeout <= 0 {
			timeout = 24 * time.Hour
		}
		token, end, err := w.opts.ActionTokens(ctx, e.ID, act.PackRef, w.svc.now().Add(timeout+req.KillGrace+time.Minute))
		if err != nil {
			return release, fmt.Errorf("minting the token of execution %d: %w", e.ID, err)
		}
		release = end
		envelope["token"] = token
		if c.secrets == nil {
			c.secrets = map[string]any{}
		}
		c.secrets[tokenSecret] = token
	}
	req.Parameters = envelope
	req.Wrapper = filepath.Join(w.opts.St2PythonDir, st2compat.WrapperFile)
	req.ReadOnly = append(req.ReadOnly, w.opts.St2PythonDir) // under a sandbox, the package is all it may read of the data dir
	req.ResultChannel = true

	// The runner's env parameter adds variables, as StackStorm's does,
	// except PYTHONPATH; attune's own win over the user's.
	if env, ok := given["env"].(map[string]any); ok {
		for k, v := range env {
			if _, taken := req.Env[k]; taken || strings.EqualFold(k, "PYTHONPATH") || k == "" {
				continue
			}
			req.Env[k] = envString(v)
		}
	}
	actionsLib := filepath.Join(pack.Path, filepath.Dir(act.EntryPoint), "lib")
	req.Env["PYTHONPATH"] = strings.Join([]string{actionsLib, filepath.Join(pack.Path, "lib"), w.opts.St2PythonDir}, string(os.PathListSeparator))
	req.Env["ST2_ACTION_PACK_NAME"] = act.PackRef
	req.Env["ST2_ACTION_EXECUTION_ID"] = strconv.Itoa(e.ID)
	req.Env["ST2_ACTION_API_URL"] = w.opts.APIURL
	return release, nil
}

// st2ActionParameters is what run() gets: every parameter the action
// declares, nil when it has no value, and none of the runner's own (env,
// timeout, log_level…), as StackStorm passes them.
func st2ActionParameters(schema param.Schema, given map[string]any) map[string]any {
	runnerParams := manifest.RunnerParameters(manifest.St2PythonScript)
	out := make(map[string]any, len(schema))
	for name := range schema {
		if _, isRunner := runnerParams[name]; isRunner {
			continue
		}
		out[name] = given[name]
	}
	return out
}

// PackConfig is the pack's config with its schema's defaults filled in:
// what its actions and sensors see as self.config, as StackStorm's
// ContentPackConfigLoader gives.
func PackConfig(p *ent.Pack) (map[string]any, error) {
	config := map[string]any{}
	if p == nil {
		return config, nil
	}
	for k, v := range p.Config {
		config[k] = v
	}
	if len(p.ConfSchema) == 0 {
		return config, nil
	}
	schema, err := param.ParseSchema(p.ConfSchema)
	if err != nil {
		return nil, fmt.Errorf("pack %s has an invalid config schema: %v", p.Ref, err)
	}
	for name, spec := range schema {
		if _, ok := config[name]; !ok && spec.Default != nil && !param.IsTemplate(spec.Default) {
			config[name] = spec.Default
		}
	}
	return config, nil
}

// envString renders an env parameter's value as a variable's text.
func envString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// st2Return is what attune's wrapper wrote on file descriptor 3.
type st2Return struct {
	Status *bool           `json:"status"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
	Exit   *int            `json:"exit"`
}

// parseSt2Return decodes the wrapper's verdict; ok is false when there is none.
func parseSt2Return(res runner.Result) (st2Return, bool) {
	var ret st2Return
	if len(res.Returned) == 0 || res.ReturnedTruncated {
		return ret, false
	}
	if err := json.Unmarshal(res.Returned, &ret); err != nil {
		return ret, false
	}
	return ret, true
}

// st2PythonResult is StackStorm's python-script result:
// {result, stdout, stderr, exit_code}, result being what run() returned
// (the second item of a (status, result) pair), null when it did not return.
func st2PythonResult(res runner.Result) map[string]any {
	var result any
	if ret, ok := parseSt2Return(res); ok && len(ret.Result) > 0 {
		dec := json.NewDecoder(bytes.NewReader(ret.Result))
		dec.UseNumber()
		if err := dec.Decode(&result); err != nil {
			result = nil
		}
	}
	return map[string]any{
		"result":    result,
		"stdout":    res.Stdout,
		"stderr":    res.Stderr,
		"exit_code": res.ExitCode,
	}
}

// st2PythonVerdict sets r's status and error from the wrapper's verdict,
// as StackStorm's runner decides: run() returned → SUCCEEDED; (False, x) →
// FAILED; an exception, a bad status or a process that ended without
// handing back run()'s outcome → FAILED. A timeout or a cancel stays as is.
func st2PythonVerdict(r *outcomeRecord, res runner.Result, redact redactor) {
	if res.TimedOut || res.Canceled {
		return
	}
	ret, ok := parseSt2Return(res)
	switch {
	case res.ReturnedTruncated:
		r.to, r.errMsg = Failed, "the action's result is larger than the worker's max_output_bytes"
	case !ok && res.ExitCode == 0:
		r.to, r.errMsg = Failed, "the action ended without handing back run()'s outcome"
	case !ok:
		r.to = Failed
	case ret.Error != "":
		r.to, r.errMsg = Failed, redact.String(ret.Error)
	case res.ExitCode != 0:
		r.to = Failed
	case ret.Status != nil && !*ret.Status:
		r.to, r.errMsg = Failed, "run() returned (False, result): the action reported a failure"
	default:
		r.to, r.errMsg = Succeeded, ""
	}
}
