//go:build !linux

package sandbox

import (
	"os"
	"os/exec"
	"os/user"
	"strconv"
)

// Sandbox starts processes directly: outside Linux attune has no kernel
// mechanism it uses to confine them (see docs/security.md).
type Sandbox struct {
	status Status
}

// New reports every protection missing; ModeRequired fails.
func New(o Options) (*Sandbox, error) {
	mode, err := checkMode(o.Mode)
	if err != nil {
		return nil, err
	}
	st := Status{Mode: mode, RunAsUID: os.Getuid(), RunAsUser: strconv.Itoa(os.Getuid())}
	if u, err := user.Current(); err == nil {
		st.RunAsUser = u.Username
	}
	st.Missing = append(append([]string{}, required...), SeparateUser)
	st.Reason = "action isolation needs Linux"
	if mode == ModeRequired {
		return nil, requireAll(st, required)
	}
	return &Sandbox{status: st}, nil
}

// Status says which protections are active: none.
func (s *Sandbox) Status() Status { return s.status }

// Enabled is false: processes are not confined.
func (s *Sandbox) Enabled() bool { return false }

// Owner is never needed: processes run as the server's user.
func (s *Sandbox) Owner() (uid, gid int, ok bool) { return 0, 0, false }

// Start starts cmd directly.
func (s *Sandbox) Start(cmd *exec.Cmd, _ Policy) (*Cmd, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &Cmd{Cmd: cmd}, nil
}

// Launch does nothing outside Linux.
func Launch([]string) {}

// KeepServerUser does nothing: processes run as the server's user already.
func (s *Sandbox) KeepServerUser(string) bool { return false }
