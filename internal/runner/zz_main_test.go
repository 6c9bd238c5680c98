package runner_test

import (
	"os"
	"testing"

	"github.com/attune-io/attune/internal/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.Launch(os.Args)
	os.Exit(m.Run())
}
