package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/textlimit"
)

// Tags yaml.v3 resolves plain scalars to; see stringify.
const (
	tagStr       = "!!str"
	tagMerge     = "!!merge"
	tagNull      = "!!null"
	tagTimestamp = "!!timestamp"
)

// doc is one decoded YAML file: values come from m, line numbers from node.
type doc struct {
	file  string
	node  *yaml.Node // top-level mapping; nil for an empty file
	m     map[string]any
	probs *problems
}

// readDoc reads and decodes the YAML mapping in name. It records a problem and returns nil
// when the file is missing, not a regular file, larger than maxBytes, not valid YAML or not a
// mapping. An empty file is an empty mapping. The size is checked before the file is read and
// again while reading, so a file that grows is never decoded.
func readDoc(fsys fs.FS, name string, maxBytes int64, probs *problems) *doc {
	info, err := fs.Lstat(fsys, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			probs.add(name, 0, "", "file not found")
		} else {
			probs.add(name, 0, "", "cannot read file: %v", err)
		}
		return nil
	}
	if !info.Mode().IsRegular() {
		probs.add(name, 0, "", "must be a regular file (symlinks are not allowed)")
		return nil
	}
	if info.Size() > maxBytes {
		probs.add(name, 0, "", "%s", tooLarge(info.Size(), maxBytes))
		return nil
	}
	data, err := readAtMost(fsys, name, maxBytes)
	if err != nil {
		probs.add(name, 0, "", "cannot read file: %v", err)
		return nil
	}
	if int64(len(data)) > maxBytes {
		probs.add(name, 0, "", "%s", tooLarge(int64(len(data)), maxBytes))
		return nil
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		probs.addYAML(name, err)
		return nil
	}
	n := &root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	d := &doc{file: name, m: map[string]any{}, probs: probs}
	switch {
	case n.Kind == 0 || n.Kind == yaml.DocumentNode || n.ShortTag() == tagNull:
		return d
	case n.Kind != yaml.MappingNode:
		probs.add(name, n.Line, "", "must be a YAML mapping of keys to values")
		return nil
	}
	stringify(n)
	if err := n.Decode(&d.m); err != nil {
		probs.addYAML(name, err)
		return nil
	}
	d.node = n
	return d
}

// readAtMost reads name up to one byte past limit.
func readAtMost(fsys fs.FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}

func tooLarge(size, limit int64) string {
	return fmt.Sprintf("is %d bytes or more; the limit of a pack's YAML file is %d bytes", size, limit)
}

// stringify retags scalar mapping keys and timestamps as strings before decoding, so every
// decoded mapping is a JSON-compatible map[string]any and dates keep the text the author
// wrote instead of becoming time.Time values.
func stringify(n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			if key.Kind == yaml.AliasNode && key.Alias != nil {
				key = key.Alias
			}
			if key.Kind == yaml.ScalarNode && key.ShortTag() != tagMerge {
				key.Tag = tagStr
			}
		}
	case yaml.ScalarNode:
		if n.ShortTag() == tagTimestamp {
			n.Tag = tagStr
		}
	}
	for _, c := range n.Content {
		stringify(c)
	}
}

// sub returns the document for a mapping nested at key[index], so an inline definition (a
// StackStorm sensor's trigger type) can be parsed like a file of its own.
func (d *doc) sub(key string, index int, m map[string]any) *doc {
	s := &doc{file: d.file, m: m, probs: d.probs}
	if v := valueNode(d.node, key); v != nil && v.Kind == yaml.SequenceNode && index < len(v.Content) {
		if item := v.Content[index]; item.Kind == yaml.MappingNode {
			s.node = item
		}
	}
	return s
}

// lookup returns the key and value nodes for key in mapping n, or nils.
func lookup(n *yaml.Node, key string) (k, v *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], n.Content[i+1]
		}
	}
	return nil, nil
}

// valueNode returns the value node for key in mapping n, or nil.
func valueNode(n *yaml.Node, key string) *yaml.Node {
	_, v := lookup(n, key)
	return v
}

// line returns the line of key, falling back to the mapping's own line (or 0).
func (d *doc) line(key string) int {
	if k, _ := lookup(d.node, key); k != nil {
		return k.Line
	}
	if d.node == nil {
		return 0
	}
	return d.node.Line
}

// problem records a problem about key.
func (d *doc) problem(key, format string, args ...any) {
	d.probs.add(d.file, d.line(key), key, format, args...)
}

// get returns the first of keys (aliases, preferred spelling first) with a non-null value,
// and the key as spelled in the file; with no such key it returns keys[0] and nil.
func (d *doc) get(keys ...string) (string, any) {
	for _, k := range keys {
		if v := d.m[k]; v != nil {
			return k, v
		}
	}
	return keys[0], nil
}

// str reads a string, at most textlimit.ForField(key) bytes long.
func (d *doc) str(keys ...string) string {
	k, v := d.get(keys...)
	s, ok := v.(string)
	if v != nil && !ok {
		d.problem(k, "must be a string")
	}
	if msg := textlimit.Check(len(s), textlimit.ForField(k)); msg != "" {
		d.problem(k, "%s", msg)
		return ""
	}
	return s
}

// boolean reads a bool, returning def when absent.
func (d *doc) boolean(def bool, keys ...string) bool {
	k, v := d.get(keys...)
	if v == nil {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		d.problem(k, "must be true or false")
		return def
	}
	return b
}

// count reads a non-negative whole number.
func (d *doc) count(keys ...string) int {
	k, v := d.get(keys...)
	if v == nil {
		return 0
	}
	n, ok := v.(int)
	if !ok || n < 0 {
		d.problem(k, "must be a whole number of at least 0")
		return 0
	}
	return n
}

// choice reads one of allowed, returning allowed[0] (the default) when absent.
func (d *doc) choice(key string, allowed ...string) string {
	s := d.str(key)
	switch {
	case s == "":
		return allowed[0]
	case !slices.Contains(allowed, s):
		d.problem(key, "must be one of %s", strings.Join(allowed, ", "))
		return allowed[0]
	}
	return s
}

// strs reads a list of strings.
func (d *doc) strs(keys ...string) []string {
	k, v := d.get(keys...)
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		d.problem(k, "must be a list of strings")
		return nil
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			d.problem(k, "item %d must be a string", i+1)
			continue
		}
		if msg := textlimit.Check(len(s), textlimit.NameBytes); msg != "" {
			d.problem(k, "item %d %s", i+1, msg)
			continue
		}
		out = append(out, s)
	}
	return out
}

// mapping reads a mapping; nil when absent.
func (d *doc) mapping(keys ...string) map[string]any {
	k, v := d.get(keys...)
	m, ok := v.(map[string]any)
	if v != nil && !ok {
		d.problem(k, "must be a mapping")
	}
	return m
}

// schema reads a parameter schema, reporting each invalid parameter at its own line.
func (d *doc) schema(keys ...string) param.Schema {
	k, v := d.get(keys...)
	s, err := param.ParseSchema(v)
	if err == nil {
		return s
	}
	perr, ok := errors.AsType[*param.Error](err)
	if !ok {
		d.problem(k, "%v", err)
		return nil
	}
	for _, fe := range perr.Fields {
		field, line := k, d.line(k)
		if fe.Field != "" {
			field += "." + fe.Field
			if n := paramNode(valueNode(d.node, k), strings.SplitN(fe.Field, ".", 2)[0]); n != nil {
				line = n.Line
			}
		}
		d.probs.add(d.file, line, field, "%s", fe.Message)
	}
	return nil
}

// paramNode finds the key node of parameter name in a flat or JSON-Schema mapping node.
func paramNode(n *yaml.Node, name string) *yaml.Node {
	if k, _ := lookup(n, name); k != nil {
		return k
	}
	k, _ := lookup(valueNode(n, "properties"), name)
	return k
}
