package packenv_test

import (
	"os"
	"testing"

	"github.com/attune-io/attune/internal/sandbox"
)

// TestMain lets the test binary serve as the sandbox launcher.
func TestMain(m *testing.M) {
	sandbox.Launch(os.Args)
	os.Exit(m.Run())
}
