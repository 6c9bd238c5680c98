// Package inproc runs the StackStorm runners that live inside the worker
// process rather than in a pack process: http-request, noop, announcement,
// remote-shell-cmd and remote-shell-script (over SSH), and attune's
// inject-trigger. Each gives StackStorm's result shape and status rules, so
// packs, rules and workflows written for StackStorm read the result where
// they expect it.
//
// It knows nothing of the database: the worker hands it the action's
// parameters (secrets included) and records the Outcome.
package inproc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/attune-io/attune/internal/manifest"
	"github.com/attune-io/attune/internal/param"
)

// InjectTrigger is attune's runner of core.inject_trigger: it emits an event
// of a given trigger from inside the worker (StackStorm's action posts to its
// own webhook API instead).
const InjectTrigger = manifest.AttuneInjectTrigger

// Status is how a run ended.
type Status string

// Statuses of an Outcome; the worker maps them to the execution's.
const (
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	TimedOut  Status = "timed_out"
	Canceled  Status = "canceled"
)

// Emitter stores an event of a trigger, as a sensor or webhook would, and
// returns its id. The rule engine implements it (wired by the server).
type Emitter interface {
	EmitEvent(ctx context.Context, trigger string, payload map[string]any, source string) (int, error)
}

// Options are the worker's settings for in-process runners.
type Options struct {
	// SSH sets how remote runners log in and check host keys.
	SSH SSHOptions
	// MaxBody caps a kept HTTP response body and each remote stream, in bytes.
	MaxBody int
	// Events stores the events of announcement and inject-trigger; nil
	// makes those runners fail.
	Events Emitter
	// Logger receives warnings (a host key learned, a body truncated).
	Logger *slog.Logger
}

// Request is one action to run in-process.
type Request struct {
	// Runner is the action's runner name ("http-request", "noop"…).
	Runner string
	// ExecutionID and ActionRef identify the run (remote env, event source).
	ExecutionID int
	ActionRef   string
	// PackDir and EntryPoint locate a remote-shell-script's script.
	PackDir, EntryPoint string
	// Schema is the action's parameter schema (runner parameters merged
	// in); positions of script arguments come from it.
	Schema param.Schema
	// Parameters are the execution's values, secrets included.
	Parameters map[string]any
	// OnLine receives output lines as they arrive, when set.
	OnLine func(stream, line string)
}

// Outcome is what a run gives the worker.
type Outcome struct {
	Status Status
	// Result is the execution's result, in the runner's StackStorm shape.
	Result any
	// ExitCode is 0 on success; see each runner for failures.
	ExitCode int
	// Stdout and Stderr are what the run streamed.
	Stdout, Stderr string
	// Error is a one-line explanation of a failure.
	Error string
}

// PrepareError reports that the action could not start (bad parameters,
// unavailable runner); nothing ran.
type PrepareError struct{ Cause string }

// Error implements error.
func (e *PrepareError) Error() string { return e.Cause }

func prepErr(format string, args ...any) error {
	return &PrepareError{Cause: fmt.Sprintf(format, args...)}
}

// Runs reports whether the runner named name runs in-process (and so
// through Run), including the runners that are known but not available.
func Runs(name string) bool {
	switch name {
	case manifest.St2HTTPRequest, manifest.St2Noop, manifest.St2Announcement, InjectTrigger,
		manifest.St2RemoteShellCmd, manifest.St2RemoteShellScrpt,
		manifest.St2Inquirer, manifest.St2Orquesta, manifest.St2ActionChain, "mistral-v2",
		manifest.St2WinRMCmd, manifest.St2WinRMPsCmd, manifest.St2WinRMPsScript:
		return true
	}
	return false
}

// Run runs req with the worker's options o. ctx bounds the whole run (the
// execution's timeout and cancellation). It returns *PrepareError when the
// action could not start; any other outcome is in Outcome.
func Run(ctx context.Context, o Options, req Request) (Outcome, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 1 << 20
	}
	var out Outcome
	var err error
	switch req.Runner {
	case manifest.St2Noop:
		out = noop()
	case manifest.St2HTTPRequest:
		out, err = runHTTP(ctx, o, req)
	case manifest.St2Announcement:
		out, err = announce(ctx, o, req)
	case InjectTrigger:
		out, err = injectTrigger(ctx, o, req)
	case manifest.St2RemoteShellCmd, manifest.St2RemoteShellScrpt:
		out, err = runRemote(ctx, o, req)
	case manifest.St2Inquirer:
		return Outcome{}, prepErr("runner %s is not available yet: inquiries (core.ask) arrive with attune's inquiries support", req.Runner)
	case manifest.St2Orquesta, manifest.St2ActionChain, "mistral-v2":
		return Outcome{}, prepErr("runner %s is not available yet: StackStorm workflows arrive with attune's workflow engine", req.Runner)
	case manifest.St2WinRMCmd, manifest.St2WinRMPsCmd, manifest.St2WinRMPsScript:
		return Outcome{}, prepErr("runner %s is not available: attune does not run Windows commands over WinRM", req.Runner)
	default:
		return Outcome{}, prepErr("runner %s does not run in the worker", req.Runner)
	}
	if err != nil {
		return Outcome{}, err
	}
	// The context's end wins over what the runner saw: a canceled or timed
	// out run never reports success.
	switch cause := context.Cause(ctx); {
	case cause == nil:
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		out.Status, out.Error = TimedOut, "timed out"
	default:
		out.Status, out.Error = Canceled, "canceled"
	}
	return out, nil
}

// noop is StackStorm's noop runner: success and nothing else.
func noop() Outcome {
	return Outcome{Status: Succeeded, Result: map[string]any{"failed": false, "succeeded": true, "return_code": 0}}
}

// actionParameters are the values of the action's own parameters, without
// its runner's (StackStorm hands runners the two apart).
func actionParameters(runner string, params map[string]any) map[string]any {
	rp := manifest.RunnerParameters(runner)
	out := make(map[string]any, len(params))
	for k, v := range params {
		if _, ok := rp[k]; !ok {
			out[k] = v
		}
	}
	return out
}

// seconds reads a timeout parameter (a number of seconds) with a default.
func seconds(v any, def time.Duration) time.Duration {
	if f, ok := number(v); ok && f > 0 {
		return time.Duration(f * float64(time.Second))
	}
	return def
}
