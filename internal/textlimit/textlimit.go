// Package textlimit is the size limit of every text attune stores, shared by
// pack manifests and the GraphQL mutations so a value accepted one way is
// accepted the other, and no row holds a text large enough to weigh on the
// memory of the lists that read it.
package textlimit

import "fmt"

// Limits in bytes.
const (
	// NameBytes bounds refs, names, labels, versions, tags and the like.
	NameBytes = 255
	// PathBytes bounds file paths and install sources (URLs).
	PathBytes = 4096
	// DescriptionBytes bounds descriptions.
	DescriptionBytes = 64 << 10
	// JSONBytes bounds a JSON document (parameters, payloads, criteria, key
	// values), encoded; the same as a webhook body's default limit.
	JSONBytes = 1 << 20
)

// ForField is the limit of a text field by its name: descriptions,
// paths and sources, anything else a name.
func ForField(name string) int {
	switch name {
	case "description":
		return DescriptionBytes
	case "source", "entry_point", "workflow_file":
		return PathBytes
	}
	return NameBytes
}

// Check describes a value of n bytes over limit, or returns "" when it fits.
func Check(n, limit int) string {
	if n <= limit {
		return ""
	}
	return fmt.Sprintf("is %d bytes; the limit is %d", n, limit)
}
