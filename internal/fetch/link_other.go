//go:build !unix

package fetch

import "io/fs"

// linkCount reports a single link where the platform does not expose link
// counts; attune's servers run on unix.
func linkCount(fs.FileInfo) uint64 { return 1 }
