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
	// triggerNamePattern is a trigger's name: StackStorm's trigger names may hold dots and
	// capitals (st2.IntervalTimer, file_watch.line), and register under the pack.
	triggerNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
	semver             = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
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
func (l *loader) header(d *doc) header { return l.headerNamed(d, false) }

// triggerHeader is header for a trigger: its `name` is StackStorm's trigger name, which may
// hold dots and capitals and is always under the pack (`name: file_watch.line` in pack linux
// is linux.file_watch.line); a `ref` is qualified as for any component.
func (l *loader) triggerHeader(d *doc) header { return l.headerNamed(d, true) }

func (l *loader) headerNamed(d *doc, trigger bool) header {
	h := header{ref: d.str("ref"), refKey: "ref", label: d.str("label"), description: d.str("description")}
	name, source := d.str("name"), ""
	names := namePattern
	if trigger {
		names = triggerNamePattern
	}
	switch {
	case trigger && h.ref == "" && name != "":
		h.ref, h.refKey, name = name, "name", ""
		if owner, _, _ := strings.Cut(h.ref, "."); owner != l.pack.Ref {
			h.ref = l.pack.Ref + "." + h.ref
		}
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
	case !names.MatchString(rest):
		d.problem(h.refKey, "name %q must match %s (refs are lower-case letters, digits, _ and -)%s", rest, names, source)
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
