package runner

import "syscall"

// procAttr puts the action in its own process group (so timeouts and
// cancels kill everything it started) and has the kernel kill it if the
// worker itself dies (kill -9, OOM), so no action outlives its worker.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
