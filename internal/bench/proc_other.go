//go:build !linux

package bench

import "syscall"

// procAttr: without a parent-death signal the bench's own cleanup stops
// its servers.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
