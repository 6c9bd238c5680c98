//go:build !linux

package main

import "os"

// shedSecrets returns the environment unchanged: outside Linux the server
// does not re-execute itself (see docs/security.md).
func shedSecrets() []string { return os.Environ() }
