package bench

import "syscall"

// procAttr kills the server when the bench dies, whatever the cause.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
