package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// execute starts p in its own process group, captures its output, enforces
// the timeout and cancellation, and builds the Result.
func execute(ctx context.Context, req Request, p *plan) (Result, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return Result{}, fmt.Errorf("creating stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(outR, outW)
		return Result{}, fmt.Errorf("creating stderr pipe: %w", err)
	}
	defer closeAll(outR, errR)
	var retR, retW *os.File
	if req.ResultChannel {
		if retR, retW, err = os.Pipe(); err != nil {
			return Result{}, fmt.Errorf("creating result pipe: %w", err)
		}
		defer closeAll(retR)
	}
	cmd := &exec.Cmd{
		Path:        p.argv[0],
		Args:        p.argv,
		Env:         p.environ(),
		Dir:         p.dir,
		Stdout:      outW,
		Stderr:      errW,
		SysProcAttr: procAttr(),
		// Bounds Wait when a grandchild keeps the stdin pipe open.
		WaitDelay: req.KillGrace,
	}
	if p.stdin != nil {
		cmd.Stdin = bytes.NewReader(p.stdin)
	}
	if retW != nil {
		cmd.ExtraFiles = []*os.File{retW} // file descriptor 3
	}
	res := Result{StartedAt: time.Now()}
	started, err := req.Sandbox.Start(cmd, p.policy)
	closeAll(outW, errW) // the child has its copies; EOF comes when all writers exit
	if retW != nil {
		closeAll(retW)
	}
	if err != nil {
		return Result{}, prepareErrorf("starting %s: %v", p.argv[0], err)
	}
	res.PID = cmd.Process.Pid
	if req.OnStart != nil {
		req.OnStart(res.PID, p.argv)
	}

	onLine := serialized(req.OnLine)
	stdout := &capture{stream: "stdout", limit: req.MaxOutput, onLine: onLine}
	stderr := &capture{stream: "stderr", limit: req.MaxOutput, onLine: onLine}
	var readers sync.WaitGroup
	readers.Go(func() { stdout.consume(outR) })
	readers.Go(func() { stderr.consume(errR) })
	returned := &capture{limit: req.MaxOutput}
	if retR != nil {
		readers.Go(func() { returned.consume(retR) })
	}

	res.TimedOut, res.Canceled = supervise(ctx, cmd, req.Timeout, req.KillGrace)
	// The action is over: nothing it left behind in its group may outlive it.
	signalGroup(res.PID, syscall.SIGKILL)
	exit := started.Release()
	pipes := []*os.File{outR, errR}
	if retR != nil {
		pipes = append(pipes, retR)
	}
	drain(&readers, req.KillGrace, pipes...)
	res.FinishedAt = time.Now()

	res.ExitCode = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Signal = int(ws.Signal())
	}
	ended := cmd.ProcessState.String() // "exit status 3", "signal: killed"
	if exit.Signal != 0 {
		// The sandbox launcher reports the signal that ended the action.
		res.ExitCode, res.Signal, ended = -1, exit.Signal, "signal: "+syscall.Signal(exit.Signal).String()
	}
	res.Stdout, res.StdoutDropped = string(stdout.buf), stdout.dropped
	res.Stderr, res.StderrDropped = string(stderr.buf), stderr.dropped
	res.StdoutTruncated, res.StderrTruncated = res.StdoutDropped > 0, res.StderrDropped > 0
	if len(returned.buf) > 0 {
		res.Returned, res.ReturnedTruncated = returned.buf, returned.dropped > 0
	}
	res.Result = parseResult(res.Stdout)
	res.Error = failureText(req, res, ended)
	return res, nil
}

// supervise waits for cmd to exit. On timeout or cancellation it sends
// SIGTERM to the whole process group, then SIGKILL after grace.
func supervise(ctx context.Context, cmd *exec.Cmd, timeout, grace time.Duration) (timedOut, canceled bool) {
	exited := make(chan struct{})
	go func() {
		// The error is read back from cmd.ProcessState; ErrWaitDelay only
		// means a grandchild held stdin, which the group kill then handles.
		_ = cmd.Wait()
		close(exited)
	}()
	var expired <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case <-exited:
		return false, false
	case <-ctx.Done():
		canceled = true
	case <-expired:
		timedOut = true
	}
	signalGroup(cmd.Process.Pid, syscall.SIGTERM)
	kill := time.NewTimer(grace)
	defer kill.Stop()
	select {
	case <-exited:
	case <-kill.C:
		signalGroup(cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	return timedOut, canceled
}

// signalGroup signals every process in the group led by pid. The error is
// ignored: ESRCH (group already gone) is the normal outcome after cleanup.
func signalGroup(pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig)
}

// drain waits for the output readers; processes that escaped the group
// (setsid) may hold the pipes open, so after grace the pipes are closed.
func drain(readers *sync.WaitGroup, grace time.Duration, pipes ...*os.File) {
	done := make(chan struct{})
	go func() {
		readers.Wait()
		close(done)
	}()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		closeAll(pipes...)
		<-done
	}
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// serialized wraps onLine so callers need not make it safe for concurrent use.
func serialized(onLine func(stream, line string)) func(stream, line string) {
	if onLine == nil {
		return nil
	}
	var mu sync.Mutex
	return func(stream, line string) {
		mu.Lock()
		defer mu.Unlock()
		onLine(stream, line)
	}
}
