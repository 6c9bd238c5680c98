package execution

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"

	"github.com/attune-io/attune/internal/inproc"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/runner"
)

// inProcess reports whether a claimed execution runs in the worker itself,
// for the runners that live there (inproc.Runs), rather than as a pack process.
func (w *Worker) inProcess(c *claimed) bool {
	return c.badParams == nil && c.action != nil && (inproc.Runs(c.action.RunnerName) || inProcessFamily(c.action.RunnerType))
}

// runInProcess runs an in-process runner within the execution's timeout
// and gives its outcome as a process result, so the worker records both
// alike.
func (w *Worker) runInProcess(ctx context.Context, c *claimed, onLine func(stream, line string)) (runner.Result, error) {
	e, act := c.exec, c.action
	if act.RunnerName == "" || act.Parameters == nil {
		// The fast claim reads only what process runners need.
		full, err := w.svc.db.Ent.Action.Query().Where(action.Ref(e.ActionRef)).WithPack().Only(ctx)
		if ent.IsNotFound(err) {
			return runner.Result{}, &runner.PrepareError{Cause: "action " + e.ActionRef + " no longer exists"}
		}
		if err != nil {
			return runner.Result{}, err
		}
		act = full
	}
	schema, err := param.ParseSchema(act.Parameters)
	if err != nil {
		return runner.Result{}, &runner.PrepareError{Cause: "the action's parameter schema is invalid: " + err.Error()}
	}
	params := make(map[string]any, len(e.Parameters)+len(c.secrets))
	for k, v := range e.Parameters {
		params[k] = v
	}
	for k, v := range c.secrets {
		params[k] = v
	}
	req := inproc.Request{
		Runner:      runnerName(act),
		ExecutionID: e.ID,
		ActionRef:   e.ActionRef,
		EntryPoint:  act.EntryPoint,
		Schema:      schema,
		Parameters:  params,
		OnLine:      onLine,
	}
	if p := act.Edges.Pack; p != nil {
		req.PackDir = p.Path
	}
	opts := w.opts.InProcess
	if opts.MaxBody <= 0 {
		opts.MaxBody = w.maxOutput()
	}
	if opts.Logger == nil {
		opts.Logger = w.svc.log.With("execution_id", e.ID, "action", e.ActionRef)
	}
	if e.TimeoutSeconds > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(e.TimeoutSeconds)*time.Second)
		defer cancel()
	}
	started := w.svc.now()
	out, err := inproc.Run(ctx, opts, req)
	var prep *inproc.PrepareError
	if errors.As(err, &prep) {
		return runner.Result{}, &runner.PrepareError{Cause: prep.Cause}
	}
	if err != nil {
		return runner.Result{}, err
	}
	res := runner.Result{
		ExitCode:   out.ExitCode,
		Result:     out.Result,
		Error:      out.Error,
		StartedAt:  started,
		FinishedAt: w.svc.now(),
	}
	res.Stdout, res.StdoutTruncated, res.StdoutDropped = capOutput(out.Stdout, opts.MaxBody)
	res.Stderr, res.StderrTruncated, res.StderrDropped = capOutput(out.Stderr, opts.MaxBody)
	switch out.Status {
	case inproc.Succeeded:
		res.ExitCode = 0
	case inproc.TimedOut:
		res.TimedOut = true
		if out.Error == "timed out" {
			res.Error = fmt.Sprintf("timed out after %s", time.Duration(e.TimeoutSeconds)*time.Second)
		}
	case inproc.Canceled:
		res.Canceled = true
	default:
		if res.ExitCode == 0 {
			res.ExitCode = 1 // never recorded as a success
		}
	}
	return res, nil
}

// inProcessFamily reports whether actions of the runner family t run in
// the worker (see inproc).
func inProcessFamily(t action.RunnerType) bool {
	switch t {
	case action.RunnerTypeHTTP, action.RunnerTypeNOOP, action.RunnerTypeREMOTE, action.RunnerTypeANNOUNCEMENT,
		action.RunnerTypeWORKFLOW, action.RunnerTypeINQUIRY, action.RunnerTypeWINRM:
		return true
	}
	return false
}

// capOutput keeps the first max bytes of s, as the process runner does.
func capOutput(s string, max int) (string, bool, int64) {
	if max <= 0 || len(s) <= max {
		return s, false, 0
	}
	return s[:max], true, int64(len(s) - max)
}
