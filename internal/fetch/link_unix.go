//go:build unix

package fetch

import (
	"io/fs"
	"syscall"
)

// linkCount returns the number of hard links to a file, to refuse files
// shared with paths outside the source.
func linkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}
