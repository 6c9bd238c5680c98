// Command attune-sandbox is the launcher attune starts each action process
// and environment build through (see package sandbox). It does what the
// attune binary does when re-executed as a launcher, but starts in a
// fraction of the time: it initializes three small packages instead of the
// whole server. Install it next to attune; without it attune re-executes
// itself.
package main

import (
	"fmt"
	"os"

	"github.com/attune-io/attune/internal/sandbox"
)

func main() {
	sandbox.Launch(os.Args)
	fmt.Fprintf(os.Stderr, "attune-sandbox is started by attune (as %s), not by hand\n", sandbox.LauncherArg)
	os.Exit(2)
}
