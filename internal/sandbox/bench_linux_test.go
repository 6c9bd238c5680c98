package sandbox_test

import (
	"os/exec"
	"testing"

	"github.com/attune-io/attune/internal/sandbox"
)

// BenchmarkStart is what the sandbox adds to starting a process.
func BenchmarkStart(b *testing.B) {
	for _, mode := range []string{sandbox.ModeOff, sandbox.ModeAuto} {
		b.Run(mode, func(b *testing.B) {
			sb, err := sandbox.New(sandbox.Options{Mode: mode})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				c, err := sb.Start(&exec.Cmd{Path: "/bin/true", Args: []string{"true"}}, sandbox.Policy{})
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Wait(); err != nil {
					b.Fatal(err)
				}
				c.Release()
			}
		})
	}
}
