package inproc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// knownHostsMu serializes reading and appending known_hosts files within
// the worker, so two parallel first connections learn one key each.
var knownHostsMu sync.Mutex

// hostKeyCallback checks host keys under the worker's policy. StackStorm
// accepts any key (paramiko's AutoAddPolicy), which lets anyone on the path
// impersonate a host and read the commands and passwords sent to it;
// attune's default learns a new host's key once and refuses a changed one.
func hostKeyCallback(o SSHOptions, opts Options) (ssh.HostKeyCallback, error) {
	policy := o.HostKeyPolicy
	if policy == "" {
		policy = HostKeyAccept
	}
	switch policy {
	case HostKeyOff:
		return func(hostname string, _ net.Addr, key ssh.PublicKey) error {
			opts.Logger.Warn("ssh host key not checked (worker.ssh.host_key_policy: off)",
				"host", hostname, "fingerprint", ssh.FingerprintSHA256(key))
			return nil
		}, nil
	case HostKeyAccept, HostKeyStrict:
	default:
		return nil, prepErr("worker.ssh.host_key_policy %q: want accept-new, strict or off", policy)
	}
	if o.KnownHosts == "" {
		return nil, prepErr("worker.ssh.known_hosts is not set: host keys cannot be checked")
	}
	file := o.KnownHosts
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		knownHostsMu.Lock()
		defer knownHostsMu.Unlock()
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			if policy == HostKeyStrict {
				return fmt.Errorf("host key of %s is not known: %s does not exist (worker.ssh.host_key_policy: strict)", hostname, file)
			}
			if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(file, nil, 0o600); err != nil {
				return err
			}
		}
		check, err := knownhosts.New(file)
		if err != nil {
			return fmt.Errorf("reading %s: %w", file, err)
		}
		err = check(hostname, remote, key)
		var ke *knownhosts.KeyError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ke) && len(ke.Want) > 0:
			return fmt.Errorf("host key of %s changed (now %s %s), refusing to connect: someone may be impersonating the host, "+
				"or its key was replaced; if so, remove its line from %s", hostname, key.Type(), ssh.FingerprintSHA256(key), file)
		case errors.As(err, &ke) && policy == HostKeyStrict:
			return fmt.Errorf("host key of %s (%s %s) is not in %s (worker.ssh.host_key_policy: strict)",
				hostname, key.Type(), ssh.FingerprintSHA256(key), file)
		case errors.As(err, &ke):
			f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key)
			if _, err := f.WriteString(line + "\n"); err != nil {
				return err
			}
			opts.Logger.Warn("ssh host key learned on first connection (worker.ssh.host_key_policy: accept-new)",
				"host", hostname, "key_type", key.Type(), "fingerprint", ssh.FingerprintSHA256(key), "known_hosts", file)
			return nil
		}
		return err
	}, nil
}
