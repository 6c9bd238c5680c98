// Package runner runs one action process and reports what happened: exit
// code, bounded output, the parsed JSON result, and whether it timed out or
// was canceled. It knows nothing of the database; the execution service
// decides what an outcome means for the execution row.
//
// Secrets never reach argv or the environment of attune's own runners:
// parameters travel on stdin or in a 0400 file, and the child sees a minimal
// environment instead of the server's. StackStorm's runners put parameters
// in argv by convention (Request.Args); the pack install warns about the
// secret ones. Every action runs in its own process group so that timeouts and
// cancellation reach grandchildren too.
package runner

import (
	"context"
	"time"

	"github.com/attune-io/attune/internal/sandbox"
)

// Runner names accepted in Request.Runner.
const (
	// Shell runs the entry point with bash.
	Shell = "shell"
	// Python runs the entry point with the pack's venv interpreter, unbuffered.
	Python = "python"
	// Node runs the entry point with node.
	Node = "node"
	// Native executes the entry point file itself.
	Native = "native"
	// Local runs the "cmd" parameter with /bin/sh (core.local style actions).
	Local = "local"
	// Script runs the entry point as StackStorm's local-shell-script runner
	// does: as an executable, through its #! line (/bin/sh without one),
	// with Args after it.
	Script = "script"
)

// Parameter delivery modes accepted in Request.Delivery.
const (
	// DeliveryStdin writes the parameters as one JSON line on stdin, then closes it.
	DeliveryStdin = "stdin"
	// DeliveryFile writes the parameters to a 0400 file named by ParametersFileEnv.
	DeliveryFile = "file"
	// DeliveryNone gives the action no parameter document: StackStorm's
	// runners pass parameters in argv (Args) or in cmd, and stdin is empty.
	DeliveryNone = "none"
)

const (
	// ParametersFileEnv names the variable that holds the parameter file path
	// under DeliveryFile; the path is not secret, the contents are.
	ParametersFileEnv = "ATTUNE_PARAMETERS_FILE"
	// DefaultPath is the PATH actions see, so the server's PATH never leaks in.
	DefaultPath = "/usr/local/bin:/usr/bin:/bin"
	// DefaultKillGrace is how long a process group gets between SIGTERM and SIGKILL.
	DefaultKillGrace = 5 * time.Second
	// DefaultMaxOutput caps each captured stream so a chatty action cannot
	// exhaust the worker's memory.
	DefaultMaxOutput = 1 << 20
)

// Request describes one action process to run.
type Request struct {
	// Runner is one of Shell, Python, Node, Native, Local or Script.
	Runner string
	// PackDir is the working directory and the root EntryPoint is relative to.
	PackDir string
	// Dir, when set, is the working directory instead of PackDir (StackStorm's
	// cwd); a relative one is relative to PackDir. It must exist.
	Dir string
	// Args follow the entry point on the command line (Script only). They
	// are visible to every local user (ps), so secrets do not belong there.
	Args []string
	// Sudo runs the command with sudo -E, as StackStorm's sudo runner
	// parameter does; see sudoCommand for a worker without sudo.
	Sudo bool
	// SudoPassword, when set, is given to sudo -S on stdin; without it sudo
	// runs non-interactively (-n) and fails rather than wait for a password.
	SudoPassword string
	// EntryPoint is the action file relative to PackDir (empty for Local).
	EntryPoint string
	// Interpreter is <venv>/bin/python for Python (required), "node" or a path
	// for Node, "bash" or a path for Shell; unused for Native and Local.
	// Bare names are looked up in the child's PATH.
	Interpreter string
	// Wrapper, for Python, is an absolute path of attune's own script run
	// as __main__ instead of the entry point, which it gets as its first
	// argument (the wrappers of StackStorm's python-script actions and
	// sensors); its directory is importable, last on sys.path.
	Wrapper string
	// ResultChannel opens file descriptor 3 in the child: a pipe whose
	// contents come back in Result.Returned. It carries a wrapper's verdict
	// on a channel that the action's own output cannot reach.
	ResultChannel bool
	// Env is added to the minimal child environment (ATTUNE_EXECUTION_ID,
	// PYTHONPATH, NODE_PATH...); it may override PATH, HOME and LANG.
	Env map[string]string
	// Parameters are delivered as one JSON object (see Delivery), never in
	// argv or env; StackStorm's argv convention is the caller's, in Args.
	Parameters map[string]any
	// Delivery is DeliveryStdin (default), DeliveryFile or DeliveryNone.
	Delivery string
	// Timeout bounds the run; zero means no timeout.
	Timeout time.Duration
	// KillGrace is the delay between SIGTERM and SIGKILL to the process group
	// (default DefaultKillGrace). It also bounds how long output pipes held
	// open by escaped processes are drained after the action exits.
	KillGrace time.Duration
	// MaxOutput caps each stream's captured bytes (default DefaultMaxOutput);
	// the rest is dropped and counted.
	MaxOutput int
	// OnLine, if set, receives every output line as it arrives (stream is
	// "stdout" or "stderr"), including lines beyond MaxOutput. Calls are
	// serialized; a slow callback slows the reading of the action's output.
	OnLine func(stream string, line string)
	// OnStart, if set, is called once the process has started, with its
	// pid and argv (a sensor's process_spawn trigger).
	OnStart func(pid int, argv []string)
	// TempDir holds parameter files and Local scripts; it should be private to
	// the worker. Empty means the system temp directory; a relative path is
	// relative to the worker's working directory, not the pack's.
	TempDir string
	// Sandbox, when enabled, confines the process (see package sandbox):
	// it reads the system paths, PackDir, ReadOnly and the interpreter's
	// installation, and writes only a private directory made for this run
	// under TempDir, which is its HOME and TMPDIR and holds its parameter
	// file. Nil runs the process as the worker's own user.
	Sandbox *sandbox.Sandbox
	// ReadOnly lists more paths a sandboxed process may read (the pack's
	// environment).
	ReadOnly []string
}

// Result is what happened to the process.
type Result struct {
	// ExitCode is the process exit status, -1 when a signal ended it.
	ExitCode int
	// Signal is the signal that ended the process, 0 when it exited.
	Signal int
	// Stdout and Stderr hold at most MaxOutput bytes each.
	Stdout, Stderr string
	// StdoutTruncated and StderrTruncated report that bytes were dropped.
	StdoutTruncated, StderrTruncated bool
	// StdoutDropped and StderrDropped count the dropped bytes.
	StdoutDropped, StderrDropped int64
	// Result is the JSON value of the whole stdout or, failing that, of its
	// last non-empty line; nil when neither parses. Numbers are json.Number
	// so that large integers keep their precision.
	Result any
	// Returned is what the process wrote to file descriptor 3 under
	// Request.ResultChannel (at most MaxOutput bytes); nil when nothing.
	Returned []byte
	// ReturnedTruncated reports that Returned was cut at MaxOutput bytes.
	ReturnedTruncated bool
	// TimedOut reports that Timeout elapsed and the group was killed.
	TimedOut bool
	// Canceled reports that the context was canceled and the group was killed.
	Canceled bool
	// Error is a human explanation of a failure, empty on success.
	Error string
	// StartedAt and FinishedAt bracket the process's life.
	StartedAt, FinishedAt time.Time
	// PID is the process ID, which is also its process group ID.
	PID int
}

// PrepareError reports that the action could not be started because of the
// action, pack or runtime (missing entry point, deleted venv, ...); nothing ran.
type PrepareError struct {
	// Cause says what is wrong, e.g. "python environment missing at /x/bin/python".
	Cause string
}

// Error implements error with the message users see on the execution.
func (e *PrepareError) Error() string {
	return "Execution failed during preparation: " + e.Cause
}

// Run starts the action described by req, waits for it (killing its process
// group on timeout or when ctx is canceled) and reports the outcome. A
// process that exits non-zero is not an error: see Result.Error.
// Run returns *PrepareError when the action could not start, and another
// error for worker-side trouble (temp files, pipes).
func Run(ctx context.Context, req Request) (Result, error) {
	req = withDefaults(req)
	p, err := prepare(req)
	if err != nil {
		return Result{}, err
	}
	defer p.removeFiles()
	return execute(ctx, req, p)
}

func withDefaults(req Request) Request {
	if req.Delivery == "" {
		req.Delivery = DeliveryStdin
	}
	if req.KillGrace <= 0 {
		req.KillGrace = DefaultKillGrace
	}
	if req.MaxOutput <= 0 {
		req.MaxOutput = DefaultMaxOutput
	}
	return req
}
