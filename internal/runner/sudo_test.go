package runner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSudoCommand pins how sudo: true becomes a command line, with and
// without sudo installed, as root and not.
func TestSudoCommand(t *testing.T) {
	t.Parallel()
	withSudo := t.TempDir()
	for _, name := range []string{"sudo", "bash"} {
		require.NoError(t, os.WriteFile(filepath.Join(withSudo, name), []byte("#!/bin/sh\n"), 0o755))
	}
	noSudo := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(noSudo, "bash"), []byte("#!/bin/sh\n"), 0o755))
	sudo, bash := filepath.Join(withSudo, "sudo"), filepath.Join(withSudo, "bash")
	for _, tt := range []struct {
		name     string
		argv     []string
		runner   string
		password string
		euid     int
		path     string
		want     []string
		err      string
	}{
		{"script, passwordless", []string{"/bin/sh", "x.sh", "--a=1"}, Script, "", 1000, withSudo,
			[]string{sudo, "-E", "-n", "--", "/bin/sh", "x.sh", "--a=1"}, ""},
		{"script, password on stdin", []string{"/bin/sh", "x.sh"}, Script, "pw", 1000, withSudo,
			[]string{sudo, "-S", "-E", "--", "/bin/sh", "x.sh"}, ""},
		{"cmd runs with bash under sudo", []string{"/bin/sh", "/tmp/cmd.sh"}, Local, "", 1000, withSudo,
			[]string{sudo, "-E", "-n", "--", bash, "/tmp/cmd.sh"}, ""},
		{"root with sudo still uses it", []string{"/bin/sh", "x.sh"}, Script, "", 0, withSudo,
			[]string{sudo, "-E", "-n", "--", "/bin/sh", "x.sh"}, ""},
		{"root without sudo runs directly", []string{"/bin/sh", "x.sh"}, Script, "", 0, noSudo,
			[]string{"/bin/sh", "x.sh"}, ""},
		{"not root, no sudo: refused", []string{"/bin/sh", "x.sh"}, Script, "", 1000, noSudo,
			nil, "sudo was requested (sudo: true) but sudo is not installed on this worker"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := sudoCommand(tt.argv, tt.runner, tt.password, tt.euid, tt.path)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				var pe *PrepareError
				require.ErrorAs(t, err, &pe)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
