package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/attune-io/attune/internal/sandbox"
)

// secretsFDVar names the descriptor a re-executed server reads its secret
// variables from; it is not an ATTUNE_ variable, so configuration never
// sees it.
const secretsFDVar = "_ATTUNE_SECRETS_FD"

// shedSecrets makes /proc/<pid>/environ, which shows the environment the
// process was started with, hold none of the server's secrets: the server
// re-executes itself (same pid) with them removed, handing them over in a
// memory file instead. It returns the complete environment for the
// configuration; only PGPASSWORD goes back into the process's own
// environment, for the database drivers. Any failure keeps the environment
// as it was and says so.
func shedSecrets() []string {
	if fd := os.Getenv(secretsFDVar); fd != "" {
		return readSecrets(fd)
	}
	var clean, secret []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); sandbox.SecretVar(k) {
			secret = append(secret, kv)
		} else {
			clean = append(clean, kv)
		}
	}
	if len(secret) == 0 {
		return os.Environ()
	}
	fd, err := unix.MemfdCreate("attune-secrets", 0) // inherited by exec
	if err == nil {
		data, _ := json.Marshal(secret)
		f := os.NewFile(uintptr(fd), "attune-secrets")
		if _, err = f.Write(data); err == nil {
			clean = append(clean, secretsFDVar+"="+strconv.Itoa(fd))
			err = syscall.Exec("/proc/self/exe", os.Args, clean)
		}
		_ = f.Close()
	}
	fmt.Fprintln(os.Stderr, "attune: warning: could not shed secrets from the environment:", err)
	return os.Environ()
}

// readSecrets reads the secret variables handed over by shedSecrets.
func readSecrets(fdText string) []string {
	_ = os.Unsetenv(secretsFDVar)
	env := os.Environ()
	fd, err := strconv.Atoi(fdText)
	if err != nil {
		return env
	}
	f := os.NewFile(uintptr(fd), "attune-secrets")
	defer f.Close()
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<24))
	var secret []string
	if err == nil {
		err = json.Unmarshal(data, &secret)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "attune: reading the environment handed over at start:", err)
		return env
	}
	for _, kv := range secret {
		if k, v, _ := strings.Cut(kv, "="); k == "PGPASSWORD" {
			_ = os.Setenv(k, v)
		}
	}
	return append(env, secret...)
}
