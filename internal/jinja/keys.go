package jinja

import (
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Keys are the keys of one key-store scope as a template sees them:
// st2kv.system.<name> and st2kv.user.<name>. Names may contain dots
// (hello_st2.count): a lookup walks the name one segment at a time, as
// StackStorm's KeyValueLookup does, and a missing key reads as "".
type Keys struct {
	// Scope names the scope in messages: "st2kv.system".
	Scope string
	// Values maps key names to their values; a secret key's value is its
	// stored (encrypted) form, which decrypt_kv opens.
	Values map[string]any
}

// Root returns the lookup for the scope itself.
func (k *Keys) Root() *KeyNode { return &KeyNode{keys: k} }

// KeyNode is a partial or whole key name under a scope.
type KeyNode struct {
	keys   *Keys
	prefix string
}

// Ref is the node's name as a template writes it.
func (n *KeyNode) Ref() string {
	if n.prefix == "" {
		return n.keys.Scope
	}
	return n.keys.Scope + "." + n.prefix
}

func (n *KeyNode) value() any {
	if v, ok := n.keys.Values[n.prefix]; ok && n.prefix != "" {
		return v
	}
	return ""
}

// child looks up name under n: a key that no longer key extends reads as
// its value, anything else as a node that can be looked into further.
func (n *KeyNode) child(name string) *exec.Value {
	full := name
	if n.prefix != "" {
		full = n.prefix + "." + name
	}
	v, ok := n.keys.Values[full]
	if ok && !n.keys.extended(full) {
		return exec.AsValue(v)
	}
	return exec.AsValue(&KeyNode{keys: n.keys, prefix: full})
}

func (k *Keys) extended(name string) bool {
	for other := range k.Values {
		if strings.HasPrefix(other, name+".") {
			return true
		}
	}
	return false
}

// GetAttribute implements exec.AttributeGetter.
func (n *KeyNode) GetAttribute(name string) (*exec.Value, bool) { return n.child(name), true }

// GetItem implements exec.ItemGetter.
func (n *KeyNode) GetItem(key any) (*exec.Value, bool) {
	s, ok := key.(string)
	if !ok {
		return exec.AsValue(nil), false
	}
	return n.child(s), true
}

// String is the key's value as text, "" when there is no such key.
func (n *KeyNode) String() string { return str(n.value()) }
