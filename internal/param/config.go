package param

import (
	"maps"
	"strings"
)

// ValidateConfig checks a pack config against s as StackStorm checks one
// against its config.schema.yaml: fields the schema does not name are
// allowed (its objects are open), defaults fill what is missing at every
// level of nested properties, and a required field is an error only when it
// has neither a value nor a default. It returns the config with defaults
// applied, or an *Error listing every problem with its dotted path. Values
// are never echoed, since config fields may be secrets.
func (s Schema) ValidateConfig(config map[string]any) (map[string]any, error) {
	out := s.WithDefaults(config)
	var errs []FieldError
	for name, spec := range s {
		v, ok := out[name]
		switch {
		case (!ok || v == nil) && spec.Required:
			errs = append(errs, FieldError{Field: name, Message: "is required"})
		case ok && v != nil:
			errs = append(errs, spec.check(name, v)...)
		}
	}
	if len(errs) > 0 {
		return nil, newError(errs)
	}
	return out, nil
}

// WithDefaults returns a copy of config with the schema's defaults filled
// in where a field is missing, recursing into objects with properties as
// StackStorm's config loader does (an object field with nested defaults
// appears even when the config leaves it out). A Jinja default is left
// out: it would reach pack code as its template text.
func (s Schema) WithDefaults(config map[string]any) map[string]any {
	out := make(map[string]any, len(config)+len(s))
	for k, v := range config {
		out[k] = clone(v)
	}
	for name, spec := range s {
		v, ok := out[name]
		if (!ok || v == nil) && spec.Default != nil && !IsTemplate(spec.Default) {
			out[name] = clone(spec.Default)
			v, ok = out[name], true
		}
		if len(spec.Properties) == 0 || !spec.Properties.hasDefaults() {
			continue
		}
		sub, isMap := v.(map[string]any)
		if ok && v != nil && !isMap {
			continue // a type error, reported by the check
		}
		out[name] = spec.Properties.WithDefaults(sub)
	}
	return out
}

// hasDefaults reports whether any field, at any depth, has a default.
func (s Schema) hasDefaults() bool {
	for _, spec := range s {
		if spec.Default != nil || spec.Properties.hasDefaults() {
			return true
		}
	}
	return false
}

// SecretPaths lists the paths of the secret fields, nested ones as several
// segments (["auth", "password"]), so callers can seal or mask them.
func (s Schema) SecretPaths() [][]string {
	var out [][]string
	for name, spec := range s {
		if spec.Secret {
			out = append(out, []string{name})
			continue
		}
		for _, p := range spec.Properties.SecretPaths() {
			out = append(out, append([]string{name}, p...))
		}
	}
	return out
}

// SplitSecrets splits config into its plain part and its secret fields
// (each a tree holding only its own leaves), so the secrets can be stored
// sealed and the rest in the clear.
func (s Schema) SplitSecrets(config map[string]any) (plain, secrets map[string]any) {
	plain = maps.Clone(config)
	if plain == nil {
		plain = map[string]any{}
	}
	secrets = map[string]any{}
	for _, p := range s.SecretPaths() {
		if v, ok := take(plain, p); ok {
			put(secrets, p, v)
		}
	}
	return plain, secrets
}

// MaskSecrets returns a copy of config with every present secret field
// replaced by Redacted.
func (s Schema) MaskSecrets(config map[string]any) map[string]any {
	out, _ := clone(config).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	for _, p := range s.SecretPaths() {
		if _, ok := take(out, p); ok {
			put(out, p, Redacted)
		}
	}
	return out
}

// MergeTrees returns a deep merge of over onto base: objects merge field by
// field, anything else in over replaces what base has.
func MergeTrees(base, over map[string]any) map[string]any {
	out, _ := clone(base).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range over {
		bm, okB := out[k].(map[string]any)
		om, okO := v.(map[string]any)
		if okB && okO {
			out[k] = MergeTrees(bm, om)
			continue
		}
		out[k] = clone(v)
	}
	return out
}

// take removes the value at path from m (copying the objects on the way,
// so m's callers never see the removal) and returns it.
func take(m map[string]any, path []string) (any, bool) {
	if len(path) == 1 {
		v, ok := m[path[0]]
		if ok {
			delete(m, path[0])
		}
		return v, ok && v != nil
	}
	sub, ok := m[path[0]].(map[string]any)
	if !ok {
		return nil, false
	}
	sub = maps.Clone(sub)
	m[path[0]] = sub
	return take(sub, path[1:])
}

// put sets the value at path in m, creating objects on the way.
func put(m map[string]any, path []string, v any) {
	for _, seg := range path[:len(path)-1] {
		sub, ok := m[seg].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[seg] = sub
		}
		m = sub
	}
	m[path[len(path)-1]] = v
}

// KeepMaskedSecrets returns config with every secret field given as
// Redacted (a masked value read back and sent again, as a form does)
// replaced by that field's value in current, so that a round trip keeps
// the secret instead of storing the mask. missing lists the dotted paths
// given masked for which current holds nothing.
func (s Schema) KeepMaskedSecrets(config, current map[string]any) (out map[string]any, missing []string) {
	out, _ = clone(config).(map[string]any)
	if out == nil {
		return config, nil
	}
	for _, p := range s.SecretPaths() {
		v, ok := take(out, p)
		if !ok {
			continue
		}
		if v != Redacted {
			put(out, p, v)
			continue
		}
		cur, had := take(clone(current).(map[string]any), p)
		if !had {
			missing = append(missing, strings.Join(p, "."))
			continue
		}
		put(out, p, cur)
	}
	return out, missing
}

// Lookup follows path through the nested objects of m.
func Lookup(m map[string]any, path []string) (any, bool) {
	var cur any = m
	for _, seg := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}
