// Package migrations embeds the versioned SQL for each dialect, generated
// from ent/schema by ./gen (make generate) and applied by internal/store.
package migrations

import "embed"

// FS holds postgres/*.sql and sqlite/*.sql with their atlas.sum files.
//
//go:embed postgres sqlite
var FS embed.FS
