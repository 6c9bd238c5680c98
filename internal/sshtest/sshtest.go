// Package sshtest starts a real SSH server for tests of the remote runners:
// golang.org/x/crypto/ssh's server side, on a loopback port, running each
// exec request with /bin/sh as the test's user, with password and public key
// logins and direct-tcpip forwarding (for bastion hosts). It is for
// attune's own tests and not a stable API.
package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Server is a running SSH server.
type Server struct {
	// Addr is host:port of the listener.
	Addr string
	// Port is its port.
	Port int
	// HostKey is the server's public host key.
	HostKey ssh.PublicKey
	// Env is added to every command's environment (PATH to a test's
	// stand-ins, for example).
	Env []string

	ln     net.Listener
	config *ssh.ServerConfig

	mu        sync.Mutex
	commands  []string
	forwarded []string
	wg        sync.WaitGroup
}

// Options set who may log in.
type Options struct {
	// Password, when set, is accepted for any user.
	Password string
	// AuthorizedKey, when set, is accepted for any user.
	AuthorizedKey ssh.PublicKey
}

// Start starts a server that stops when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{}
	if o.Password != "" {
		cfg.PasswordCallback = func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if string(pw) == o.Password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		}
	}
	if o.AuthorizedKey != nil {
		want := o.AuthorizedKey.Marshal()
		cfg.PublicKeyCallback = func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(want) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		}
	}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), Port: ln.Addr().(*net.TCPAddr).Port, HostKey: signer.PublicKey(), ln: ln, config: cfg}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
	})
	return s
}

// NewClientKey returns a fresh ed25519 key: its OpenSSH PEM private key
// (the private_key parameter's material) and its public key.
func NewClientKey(t testing.TB) (string, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block)), sp
}

// Commands returns the command lines run so far.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// Forwarded returns the host:port targets of direct-tcpip channels opened
// through this server (it served as a bastion host).
func (s *Server) Forwarded() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.forwarded...)
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(conn)
		}()
	}
}

func (s *Server) handle(conn net.Conn) {
	sc, chans, reqs, err := ssh.NewServerConn(conn, s.config)
	if err != nil {
		_ = conn.Close()
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			ch, creqs, err := nc.Accept()
			if err != nil {
				continue
			}
			go s.session(ch, creqs)
		case "direct-tcpip":
			s.forward(nc)
		default:
			_ = nc.Reject(ssh.UnknownChannelType, "unsupported")
		}
	}
}

// forward serves a direct-tcpip channel: a bastion's hop to the target.
func (s *Server) forward(nc ssh.NewChannel) {
	var req struct {
		Host       string
		Port       uint32
		OriginHost string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &req); err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, "bad request")
		return
	}
	target := net.JoinHostPort(req.Host, strconv.Itoa(int(req.Port)))
	conn, err := net.Dial("tcp", target)
	if err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, creqs, err := nc.Accept()
	if err != nil {
		_ = conn.Close()
		return
	}
	s.mu.Lock()
	s.forwarded = append(s.forwarded, target)
	s.mu.Unlock()
	go ssh.DiscardRequests(creqs)
	go func() {
		_, _ = io.Copy(ch, conn)
		_ = ch.Close()
	}()
	go func() {
		_, _ = io.Copy(conn, ch)
		_ = conn.Close()
	}()
}

// session serves one session channel: pty and env requests are accepted
// and ignored, exec runs the command with /bin/sh.
func (s *Server) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		switch req.Type {
		case "pty-req", "env":
			_ = req.Reply(true, nil)
		case "exec":
			var p struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			s.mu.Lock()
			s.commands = append(s.commands, p.Command)
			s.mu.Unlock()
			code := s.run(ch, reqs, p.Command)
			go ssh.DiscardRequests(reqs)
			_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(code)}))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// run runs command with the channel as its stdio and returns its exit
// status. A signal request or the channel's end kills its process group.
func (s *Server) run(ch ssh.Channel, reqs <-chan *ssh.Request, command string) int {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp"}, s.Env...)
	cmd.Stdin = ch
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_, _ = io.WriteString(ch.Stderr(), err.Error()+"\n")
		return 127
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case req, ok := <-reqs:
				if !ok {
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
					return
				}
				if req.Type == "signal" {
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				}
				if req.WantReply {
					_ = req.Reply(req.Type == "signal", nil)
				}
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if code := ee.ExitCode(); code >= 0 {
			return code
		}
		return 137
	}
	if err != nil {
		return 255
	}
	return 0
}
