// Package sandbox starts action processes and environment builds confined
// by the kernel's own mechanisms, the strongest this machine offers:
//
//   - new user, PID and mount namespaces: the process is a child of a small
//     launcher (the attune binary itself, re-executed) that is PID 1 of its
//     own PID namespace and mounts its own /proc, so the server's processes
//     are invisible; when the launcher dies (the run is over, or the server
//     died and closed the launcher's death pipe) the kernel kills every
//     process of the namespace;
//   - Landlock: the process may read system paths, read its pack and
//     environment, and write only its private temp directory (and, for an
//     environment build, the environment); from ABI 6 it can neither signal
//     processes outside its domain nor reach their abstract unix sockets,
//     and it can never ptrace them;
//   - a separate user: when the server runs as root, the process runs as
//     Options.RunAs with no supplementary groups;
//   - no capabilities and no_new_privs, so setuid binaries grant nothing.
//
// New detects what works by starting a probe through the launcher. Call
// Launch at the very top of main: it runs the launcher when the binary was
// re-executed as one, and returns otherwise.
package sandbox

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// Isolation modes accepted in Options.Mode.
const (
	// ModeOff starts processes directly, as the server's own user.
	ModeOff = "off"
	// ModeAuto uses every protection that works on this machine.
	ModeAuto = "auto"
	// ModeRequired is ModeAuto that fails New unless Landlock, the PID
	// and mount namespaces, no_new_privs and either a separate user (root
	// server) or a user namespace all work.
	ModeRequired = "required"
)

// DefaultRunAs is the user actions run as when the server runs as root.
const DefaultRunAs = "attune-action"

// fallbackRunAs is used when DefaultRunAs does not exist on the machine.
const fallbackRunAs = "nobody"

// LauncherArg is the first argument that makes the binary a launcher.
const LauncherArg = "__attune_sandbox"

// Protection names reported in Status.Active and Status.Missing.
const (
	Landlock       = "landlock"
	UserNamespace  = "user-namespace"
	PIDNamespace   = "pid-namespace"
	MountNamespace = "mount-namespace"
	NoNewPrivs     = "no-new-privs"
	SeparateUser   = "separate-user"
)

// required lists the protections a non-root server insists on with
// ModeRequired (a root server swaps the user namespace for SeparateUser):
// a server that is not root cannot switch users, and its actions are held
// by the other protections.
var required = []string{Landlock, UserNamespace, PIDNamespace, MountNamespace, NoNewPrivs}

// Options configure New.
type Options struct {
	// Mode is ModeOff, ModeAuto (default) or ModeRequired.
	Mode string
	// RunAs is the user processes run as when the server runs as root;
	// empty means DefaultRunAs, or "nobody" when that user does not exist.
	RunAs string
	// ReadOnly lists more paths every sandboxed process may read and
	// execute, besides the system paths (e.g. a Python installed under /opt).
	ReadOnly []string
	// Launcher is the program started as the launcher; empty means
	// LauncherName next to the running binary when it is there (it starts
	// in a few milliseconds), else the running binary itself (whose
	// package initialization costs tens of milliseconds per process).
	Launcher string
}

// LauncherName is the small launcher binary looked for next to attune.
const LauncherName = "attune-sandbox"

// Status says which protections are active.
type Status struct {
	// Mode is the configured mode.
	Mode string
	// LandlockABI is the kernel's Landlock ABI version, 0 when unavailable.
	LandlockABI int
	// Active and Missing name protections (Landlock, UserNamespace...).
	Active, Missing []string
	// RunAsUser is the user processes run as, and RunAsUID its id.
	RunAsUser string
	RunAsUID  int
	// Reason explains why protections are missing, empty when none are.
	Reason string
	// Launcher is the program each process is started through.
	Launcher string
}

// Has reports whether protection name is active.
func (s Status) Has(name string) bool {
	for _, a := range s.Active {
		if a == name {
			return true
		}
	}
	return false
}

// Policy is what one sandboxed process may reach besides the system paths.
type Policy struct {
	// ReadOnly paths may be read and executed (the pack, its environment,
	// the interpreter's installation).
	ReadOnly []string
	// ReadWrite paths may be written (the private temp dir, and for an
	// environment build the environment being built).
	ReadWrite []string
}

// Exit is how the process inside the sandbox ended, read after Wait.
type Exit struct {
	// Signal is the signal that killed the process, 0 when it exited.
	Signal int
}

// ErrRequired is wrapped by New when ModeRequired finds protections missing.
var ErrRequired = errors.New("worker.require_isolation is set but action isolation is incomplete")

// SecretVar reports the environment variables of the server that no
// sandboxed process may inherit: its configuration (ATTUNE_ADMIN_TOKEN,
// ATTUNE_ENCRYPTION_KEY, ATTUNE_DATABASE_URL...) and the PostgreSQL
// password.
func SecretVar(key string) bool {
	return strings.HasPrefix(key, "ATTUNE_") || key == "PGPASSWORD"
}

// checkMode validates o.Mode.
func checkMode(mode string) (string, error) {
	switch mode {
	case "":
		return ModeAuto, nil
	case ModeOff, ModeAuto, ModeRequired:
		return mode, nil
	}
	return "", fmt.Errorf("isolation mode %q: want off, auto or required", mode)
}

// requireAll fails when st lacks one of the protections named in need.
func requireAll(st Status, need []string) error {
	var missing []string
	for _, name := range need {
		if !st.Has(name) {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	why := ""
	if st.Reason != "" {
		why = " (" + st.Reason + ")"
	}
	return fmt.Errorf("%w: missing %s%s", ErrRequired, strings.Join(missing, ", "), why)
}

// Cmd is a command started through the sandbox.
type Cmd struct {
	*exec.Cmd
	release func() Exit
}

// Release ends the sandbox's hold on the process (closing the launcher's
// death pipe, which kills whatever is left in its namespace) and says how
// the process inside ended. Call it once, after Wait.
func (c *Cmd) Release() Exit {
	if c.release == nil {
		return Exit{}
	}
	r := c.release
	c.release = nil
	return r()
}

// Installation returns the directories a program needs readable: for
// <prefix>/bin/<name> the prefix, both as named (a virtualenv) and after
// resolving symlinks (the base installation it points to). /bin/sh's prefix
// is "/", which would open everything, so it is left out.
func Installation(program string) []string {
	var dirs []string
	for _, path := range []string{program, realPath(program)} {
		if prefix := filepath.Dir(filepath.Dir(path)); prefix != "/" && prefix != "." {
			dirs = append(dirs, prefix)
		}
	}
	return dirs
}

// realPath resolves the symlinks in path, or returns it as is.
func realPath(path string) string {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real
	}
	return path
}
