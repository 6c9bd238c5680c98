package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// Sandbox starts processes under the protections New found working.
type Sandbox struct {
	status Status
	off    bool
	exe    string
	// flags are the namespaces each launcher gets.
	flags uintptr
	// uid and gid are who the process runs as (outside the namespace);
	// setuid says the launcher must switch to them (the server is root).
	uid, gid int
	setuid   bool
	landlock bool
	extraRO  []string
}

// launcherExit is the launcher's own exit status when it could not start
// the process; stderr says why.
const launcherExit = 125

// File descriptors the launcher receives (exec.Cmd.ExtraFiles).
const (
	specFD   = 3 // the JSON launchSpec, then EOF
	deathFD  = 4 // EOF when the server's end closes: kill everything
	statusFD = 5 // the launcher writes how the process ended
)

// launchSpec is what the launcher starts and how it confines it.
type launchSpec struct {
	Path     string
	Args     []string
	Env      []string
	Dir      string
	UID, GID int
	Setuid   bool
	PIDNS    bool
	MountNS  bool
	Landlock bool
	// Extra counts the caller's own ExtraFiles, which the launcher got
	// after its own three and hands on to the process as fd 3, 4…
	Extra  int
	RO, RW []string
}

// New detects the protections that work here by starting a probe through
// each configuration, strongest first. With ModeRequired it fails unless
// all of them work; with ModeOff it starts processes directly.
func New(o Options) (*Sandbox, error) {
	mode, err := checkMode(o.Mode)
	if err != nil {
		return nil, err
	}
	s := &Sandbox{status: Status{Mode: mode}, extraRO: o.ReadOnly}
	s.status.LandlockABI, _ = llsys.LandlockGetABIVersion()
	if mode == ModeOff {
		o.RunAs = "" // processes run as the server
		s.self()
	} else if err := s.runAs(o.RunAs); err != nil {
		return nil, err
	}
	if mode == ModeOff {
		s.off = true
		s.status.Missing = append(append([]string{}, required...), SeparateUser)
		s.status.Reason = "isolation is off (worker.isolation: off)"
		return s, nil
	}
	if s.exe, err = launcher(o.Launcher); err != nil {
		return nil, err
	}
	s.status.Launcher = s.exe
	s.landlock = s.status.LandlockABI > 0
	var reasons []string
	// A root server needs no user namespace to make the others, and the
	// processes run as another user anyway; creating and destroying one
	// per process is what isolation costs most (measured: 59 against 164
	// sandboxed runs/s, ten at a time, on 2 cores).
	full := uintptr(syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID | syscall.CLONE_NEWNS)
	if os.Geteuid() == 0 {
		full = syscall.CLONE_NEWPID | syscall.CLONE_NEWNS
	}
	for _, flags := range []uintptr{full, 0} {
		s.flags = flags
		if err = s.probe(); err == nil {
			break
		}
		reasons = append(reasons, err.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("the sandbox launcher does not start: %s", strings.Join(reasons, "; "))
	}
	s.status.Active, s.status.Missing = s.protections()
	if len(s.status.Missing) > 0 {
		if s.status.LandlockABI == 0 {
			reasons = append(reasons, "the kernel has no Landlock")
		}
		s.status.Reason = strings.Join(reasons, "; ")
	}
	if mode == ModeRequired {
		if err := requireAll(s.status, requiredHere()); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// launcher picks the launcher program (see Options.Launcher).
func launcher(configured string) (string, error) {
	if configured != "" {
		return filepath.Abs(configured)
	}
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the attune binary for the sandbox launcher: %w", err)
	}
	small := filepath.Join(filepath.Dir(self), LauncherName)
	if st, err := os.Stat(small); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
		return small, nil
	}
	return self, nil
}

// requiredHere is what ModeRequired insists on: a root server confines by
// a separate user instead of a user namespace.
func requiredHere() []string {
	if os.Geteuid() == 0 {
		return []string{Landlock, PIDNamespace, MountNamespace, NoNewPrivs, SeparateUser}
	}
	return []string{Landlock, UserNamespace, PIDNamespace, MountNamespace, NoNewPrivs}
}

// runAs picks who processes run as.
func (s *Sandbox) runAs(name string) error {
	if os.Geteuid() != 0 {
		s.self()
		return nil
	}
	explicit := name != ""
	if !explicit {
		name = DefaultRunAs
	}
	u, err := user.Lookup(name)
	if err != nil && !explicit {
		name = fallbackRunAs
		u, err = user.Lookup(name)
	}
	if err != nil {
		return fmt.Errorf("worker.run_as: user %q: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	s.uid, s.gid, s.setuid = uid, gid, uid != 0
	s.status.RunAsUser, s.status.RunAsUID = u.Username, uid
	return nil
}

// self makes processes run as the server's own user.
func (s *Sandbox) self() {
	s.uid, s.gid = os.Getuid(), os.Getgid()
	s.status.RunAsUID = s.uid
	s.status.RunAsUser = strconv.Itoa(s.uid)
	if u, err := user.LookupId(s.status.RunAsUser); err == nil {
		s.status.RunAsUser = u.Username
	}
}

// protections lists what the current configuration gives.
func (s *Sandbox) protections() (active, missing []string) {
	has := map[string]bool{
		Landlock:       s.landlock,
		UserNamespace:  s.flags&syscall.CLONE_NEWUSER != 0,
		PIDNamespace:   s.flags&syscall.CLONE_NEWPID != 0,
		MountNamespace: s.flags&syscall.CLONE_NEWNS != 0,
		NoNewPrivs:     true,
		SeparateUser:   s.setuid,
	}
	for _, name := range []string{Landlock, UserNamespace, PIDNamespace, MountNamespace, NoNewPrivs, SeparateUser} {
		if has[name] {
			active = append(active, name)
		}
	}
	for _, name := range requiredHere() {
		if !has[name] {
			missing = append(missing, name)
		}
	}
	return active, missing
}

// probe starts /bin/sh through the launcher and requires it to succeed.
func (s *Sandbox) probe() error {
	var stderr bytes.Buffer
	cmd := &exec.Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 0"}, Dir: "/", Stderr: &stderr}
	c, err := s.Start(cmd, Policy{})
	if err != nil {
		return err
	}
	err = c.Wait()
	c.Release()
	if err != nil {
		return fmt.Errorf("probe with namespaces %#x: %v: %s", s.flags, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// Status says which protections are active.
func (s *Sandbox) Status() Status { return s.status }

// Enabled reports whether processes are confined at all.
func (s *Sandbox) Enabled() bool { return s != nil && !s.off }

// Owner returns the user the files a sandboxed process must own (its temp
// dir, its parameter file) should belong to; ok is false when they may
// stay the server's.
func (s *Sandbox) Owner() (uid, gid int, ok bool) {
	if !s.Enabled() || !s.setuid {
		return 0, 0, false
	}
	return s.uid, s.gid, true
}

// Start starts cmd (Path, Args, Env, Dir and the standard streams are
// used; Env nil means an empty environment) through the launcher, confined
// to p. Wait on the returned command, then call Release.
func (s *Sandbox) Start(cmd *exec.Cmd, p Policy) (*Cmd, error) {
	if !s.Enabled() {
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return &Cmd{Cmd: cmd}, nil
	}
	dir := cmd.Dir
	if dir == "" {
		dir, _ = os.Getwd()
	}
	spec := launchSpec{
		Path: cmd.Path, Args: cmd.Args, Env: cmd.Env, Dir: dir,
		UID: s.uid, GID: s.gid, Setuid: s.setuid,
		PIDNS: s.flags&syscall.CLONE_NEWPID != 0, MountNS: s.flags&syscall.CLONE_NEWNS != 0,
		Landlock: s.landlock,
		RO:       append(append(systemPaths(), s.extraRO...), p.ReadOnly...),
		RW:       p.ReadWrite,
		Extra:    len(cmd.ExtraFiles),
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encoding sandbox spec: %w", err)
	}
	var files [3][2]*os.File // spec, death, status: [read, write]
	for i := range files {
		if files[i][0], files[i][1], err = os.Pipe(); err != nil {
			closeFiles(files[:i]...)
			return nil, fmt.Errorf("creating sandbox pipe: %w", err)
		}
	}
	cmd.Path, cmd.Args, cmd.Env, cmd.Dir = s.exe, []string{"attune-sandbox", LauncherArg}, []string{}, "/"
	cmd.ExtraFiles = append([]*os.File{files[0][0], files[1][0], files[2][1]}, cmd.ExtraFiles...)
	attr := cmd.SysProcAttr
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	attr.Cloneflags = s.flags
	// The death pipe does Pdeathsig's job, better: the child of a new PID
	// namespace sees parent 0 and Go's Pdeathsig check would kill it at
	// once, and Pdeathsig fires when the starting thread ends, not the
	// server; and the launcher must live to kill the rest.
	attr.Pdeathsig = 0
	if s.flags&syscall.CLONE_NEWUSER != 0 {
		attr.UidMappings, attr.GidMappings = s.mappings()
		attr.GidMappingsEnableSetgroups = os.Geteuid() == 0
	}
	cmd.SysProcAttr = attr
	err = cmd.Start()
	// The launcher has its copies.
	closeFiles([2]*os.File{files[0][0], nil}, [2]*os.File{files[1][0], nil}, [2]*os.File{nil, files[2][1]})
	if err != nil {
		closeFiles([2]*os.File{nil, files[0][1]}, [2]*os.File{nil, files[1][1]}, [2]*os.File{files[2][0], nil})
		return nil, err
	}
	go func() {
		_, _ = files[0][1].Write(data)
		_ = files[0][1].Close()
	}()
	death, status := files[1][1], files[2][0]
	return &Cmd{Cmd: cmd, release: func() Exit {
		_ = death.Close()
		// Wait has returned: the launcher is gone and the pipe is at EOF.
		b, _ := io.ReadAll(io.LimitReader(status, 64))
		_ = status.Close()
		var e Exit
		if sig, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "signal "); ok {
			e.Signal, _ = strconv.Atoi(sig)
		}
		return e
	}}, nil
}

// mappings maps the ids the launcher and its child need: for a root
// server root (the launcher) and the run-as user, both as themselves; else
// the server's own ids as root, so the launcher may mount.
func (s *Sandbox) mappings() (uids, gids []syscall.SysProcIDMap) {
	if os.Geteuid() != 0 {
		return []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			[]syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	uids = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}
	gids = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}
	if s.uid != 0 {
		uids = append(uids, syscall.SysProcIDMap{ContainerID: s.uid, HostID: s.uid, Size: 1})
	}
	if s.gid != 0 {
		gids = append(gids, syscall.SysProcIDMap{ContainerID: s.gid, HostID: s.gid, Size: 1})
	}
	return uids, gids
}

func closeFiles(pairs ...[2]*os.File) {
	for _, p := range pairs {
		for _, f := range p {
			if f != nil {
				_ = f.Close()
			}
		}
	}
}

// systemPaths are readable (and executable) by every sandboxed process.
// /etc is among them: what in it is secret (shadow) is not readable by
// the run-as user. /tmp, /home, /root, /var and /run are not.
func systemPaths() []string {
	paths := []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt",
		"/proc", "/sys", "/dev", "/run/systemd/resolve"}
	// resolv.conf is often a symlink into /run.
	if target, err := filepath.EvalSymlinks("/etc/resolv.conf"); err == nil {
		paths = append(paths, filepath.Dir(target))
	}
	return paths
}

// devices may be written by every sandboxed process.
var devices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx"}

// Launch runs the launcher when args (os.Args) name it, and never returns
// then; otherwise it returns at once. Call it first in main.
func Launch(args []string) {
	if len(args) < 2 || args[1] != LauncherArg {
		return
	}
	code, err := launch()
	if err != nil {
		fmt.Fprintln(os.Stderr, "attune sandbox:", err)
	}
	os.Exit(code)
}

// launch confines itself, starts the process, reaps until it ends and
// reports how it ended.
func launch() (int, error) {
	// Capabilities and the bounding set are per thread: set them, and
	// fork, on this one.
	runtime.LockOSThread()
	specFile := os.NewFile(specFD, "spec")
	death := os.NewFile(deathFD, "death")
	status := os.NewFile(statusFD, "status")
	var spec launchSpec
	if err := json.NewDecoder(specFile).Decode(&spec); err != nil {
		return launcherExit, fmt.Errorf("reading spec: %w", err)
	}
	_ = specFile.Close()
	syscall.CloseOnExec(deathFD)
	syscall.CloseOnExec(statusFD)
	if err := mountPrivate(spec); err != nil {
		return launcherExit, err
	}
	if err := dropPrivileges(); err != nil {
		return launcherExit, err
	}
	if spec.Landlock {
		if err := restrict(spec); err != nil {
			return launcherExit, err
		}
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2)
	attr := &syscall.SysProcAttr{}
	if spec.Setuid {
		attr.Credential = &syscall.Credential{Uid: uint32(spec.UID), Gid: uint32(spec.GID), Groups: []uint32{}}
	}
	files := []*os.File{os.Stdin, os.Stdout, os.Stderr}
	for i := range spec.Extra {
		// The caller's own descriptors (a result channel) follow ours.
		files = append(files, os.NewFile(uintptr(statusFD+1+i), "extra"))
	}
	proc, err := os.StartProcess(spec.Path, spec.Args, &os.ProcAttr{
		Dir: spec.Dir, Env: spec.Env, Files: files, Sys: attr,
	})
	for _, f := range files[3:] {
		_ = f.Close() // the process has its copies
	}
	if err != nil {
		return launcherExit, fmt.Errorf("starting %s: %w", spec.Path, err)
	}
	killAll := func(sig syscall.Signal) {
		if spec.PIDNS {
			_ = syscall.Kill(-1, sig) // everything in the namespace but the launcher
		} else {
			_ = syscall.Kill(proc.Pid, sig) // the group got it from the worker already
		}
	}
	go func() {
		// Nothing is ever written: EOF means the server closed its end or died.
		_, _ = io.Copy(io.Discard, death)
		if spec.PIDNS {
			killAll(syscall.SIGKILL)
		} else {
			_ = syscall.Kill(-syscall.Getpgrp(), syscall.SIGKILL) // the launcher's group, itself included
		}
		os.Exit(137)
	}()
	go func() {
		for sig := range signals {
			killAll(sig.(syscall.Signal))
		}
	}()
	ws, err := reap(proc.Pid)
	if err != nil {
		return launcherExit, err
	}
	if spec.PIDNS {
		killAll(syscall.SIGKILL) // what it left behind dies with it
	}
	if ws.Signaled() {
		fmt.Fprintf(status, "signal %d\n", int(ws.Signal()))
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// reap waits for pid, reaping every orphan handed to the launcher as PID 1.
func reap(pid int) (syscall.WaitStatus, error) {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case errors.Is(err, syscall.EINTR):
		case err != nil:
			return ws, fmt.Errorf("waiting for the process: %w", err)
		case got == pid && (ws.Exited() || ws.Signaled()):
			return ws, nil
		}
	}
}

// mountPrivate gives the namespace its own /proc (showing only its own
// processes) and its own /dev/shm.
func mountPrivate(spec launchSpec) error {
	if !spec.MountNS {
		return nil
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if spec.PIDNS {
		if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return fmt.Errorf("mounting /proc: %w", err)
		}
	}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		_ = unix.Mount("tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size=64m")
	}
	return nil
}

// dropPrivileges empties the capability sets the process could get back
// at exec (bounding, ambient, inheritable) and sets no_new_privs. The
// launcher keeps its own effective capabilities so that it can switch the
// child's user; the child loses them at setuid or at exec.
func dropPrivileges() error {
	_ = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	last := 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = n
		}
	}
	for c := 0; c <= last; c++ {
		// EPERM without CAP_SETPCAP: then there is nothing to drop.
		_ = unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err == nil {
		data[0].Inheritable, data[1].Inheritable = 0, 0
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			return fmt.Errorf("clearing inheritable capabilities: %w", err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	return nil
}

// restrict applies Landlock: system paths and spec.RO readable, spec.RW
// and the harmless devices writable, nothing else; and, from ABI 6, no
// signals or abstract unix sockets outside the domain. Network access is
// not restricted.
func restrict(spec launchSpec) error {
	cfg := landlock.V11.BestEffort()
	dirs, files := existing(spec.RO)
	rules := []landlock.Rule{landlock.RODirs(dirs...)}
	if len(files) > 0 {
		rules = append(rules, landlock.ROFiles(files...))
	}
	_, devs := existing(devices)
	rules = append(rules, landlock.RWFiles(devs...).WithIoctlDev())
	rw := []string{"/dev/pts"}
	if spec.MountNS {
		rw = append(rw, "/dev/shm") // private to the namespace
	}
	rwDirs, rwFiles := existing(append(rw, spec.RW...))
	rules = append(rules, landlock.RWDirs(rwDirs...).WithIoctlDev())
	if len(rwFiles) > 0 {
		rules = append(rules, landlock.RWFiles(rwFiles...))
	}
	if err := cfg.RestrictPaths(rules...); err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	if err := cfg.RestrictScoped(); err != nil {
		return fmt.Errorf("landlock scopes: %w", err)
	}
	return nil
}

// existing splits the paths that exist into directories and other files
// (Landlock grants directory rights only on directories).
func existing(paths []string) (dirs, files []string) {
	for _, p := range paths {
		st, err := os.Stat(p)
		switch {
		case err != nil:
		case st.IsDir():
			dirs = append(dirs, p)
		default:
			files = append(files, p)
		}
	}
	return dirs, files
}

// KeepServerUser makes processes run as the server's own user after all,
// because the run-as user cannot reach what they need (reason says what);
// the namespaces and Landlock still confine them. It reports false in
// ModeRequired, where a missing separate user is an error, and when
// processes did not run as another user anyway.
func (s *Sandbox) KeepServerUser(reason string) bool {
	if !s.Enabled() || !s.setuid || s.status.Mode == ModeRequired {
		return false
	}
	s.self()
	s.setuid = false
	s.status.Active, s.status.Missing = s.protections()
	if !slices.Contains(s.status.Missing, SeparateUser) {
		s.status.Missing = append(s.status.Missing, SeparateUser)
	}
	if s.status.Reason != "" {
		reason = s.status.Reason + "; " + reason
	}
	s.status.Reason = reason
	return true
}
