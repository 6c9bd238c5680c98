package manifest

import (
	"cmp"
	"path"
	"regexp"
	"strings"
)

// Ref patterns. Refs are lower-case so they compare and sort the same everywhere (URLs,
// database unique keys, template expressions).
var (
	packRefPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{1,63}$`)
	namePattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,127}$`)
	// refLike is what a `name` key must look like to stand in for a missing `ref`.
	refLike = regexp.MustCompile(`^([a-z][a-z0-9_-]{1,63}\.)?[a-z0-9][a-z0-9_-]{0,127}$`)
	semver  = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
		`(-(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?` +
		`(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$`)
)

// header is the identity every component file carries.
type header struct {
	ref, name, label, description string
	refKey                        string // key the ref came from, for problem locations
}

// header reads a component's ref, label and description. The ref comes from `ref`, else
// from a ref-like `name` (StackStorm), else from the file name; an unqualified ref gets the
// pack prefix, and a ref qualified by another pack is a problem.
func (l *loader) header(d *doc) header {
	h := header{ref: d.str("ref"), refKey: "ref", label: d.str("label"), description: d.str("description")}
	name, source := d.str("name"), ""
	switch {
	case h.ref == "" && refLike.MatchString(name):
		h.ref, h.refKey, name = name, "name", ""
	case h.ref == "":
		h.ref, _, _ = strings.Cut(path.Base(d.file), ".")
		source = " (taken from the file name; set ref to choose another)"
	}
	owner, rest, qualified := strings.Cut(h.ref, ".")
	if !qualified {
		owner, rest = l.pack.Ref, h.ref
	}
	h.name = rest
	switch {
	case l.packOK && owner != l.pack.Ref:
		d.problem(h.refKey, "%q is owned by another pack; refs in this pack must start with %q", h.ref, l.pack.Ref+".")
	case !namePattern.MatchString(rest):
		d.problem(h.refKey, "name %q must match %s (refs are lower-case letters, digits, _ and -)%s", rest, namePattern, source)
	}
	if p := d.str("pack"); l.packOK && p != "" && p != l.pack.Ref {
		d.problem("pack", "%q is not this pack (%q)", p, l.pack.Ref)
	}
	h.ref = l.pack.Ref + "." + h.name
	h.label = cmp.Or(h.label, name, h.name)
	return h
}

// qualify prefixes an unqualified ref with the pack's ref, as rules and sensors may name
// components of their own pack by short name.
func (l *loader) qualify(ref string) string {
	if ref == "" || strings.Contains(ref, ".") {
		return ref
	}
	return l.pack.Ref + "." + ref
}
