//go:build !linux

package runner

import "syscall"

// procAttr puts the action in its own process group.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
