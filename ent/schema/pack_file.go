package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// PackFile is one chunk of one file of an installed pack version, stored
// once per version, keyed by the version's tree checksum (Pack.checksum).
// Nodes that must run a version they do not have write it from these rows
// into their own packs_dir. Versions no pack and no active execution points
// at are removed by the pack sweep. Never exposed in GraphQL.
type PackFile struct{ ent.Schema }

// Fields of the PackFile.
func (PackFile) Fields() []ent.Field {
	return []ent.Field{
		field.String("pack_ref"),
		field.String("checksum").Comment("The version's tree checksum."),
		field.String("path").Comment("Slash-separated path inside the pack."),
		field.Int("mode").Comment("Permission bits."),
		field.Int("chunk").Comment("Chunk number, from 0; a file's chunks concatenate to its content."),
		field.Bytes("data").Optional(),
	}
}

// Indexes of the PackFile.
func (PackFile) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("checksum", "path", "chunk").Unique(),
		index.Fields("pack_ref"),
	}
}

// Annotations of the PackFile.
func (PackFile) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of the PackFile: who may read it (privacy.go).
func (PackFile) Policy() ent.Policy { return readPolicy }
