package keystore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/rule"
	"github.com/attune-io/attune/internal/store"
)

// namespaces are the template roots that read keys: keystore.<name> and
// StackStorm's st2kv.system.<name>.
func (v Values) namespaces() (rule.Context, []string) {
	var secrets []string
	for name, secret := range v.Secrets {
		if secret {
			secrets = append(secrets, "keystore."+name, "st2kv.system."+name)
		}
	}
	return rule.Context{
		"keystore": v.Plain,
		"st2kv":    map[string]any{"system": v.Tree()},
	}, secrets
}

// Tree is Plain with dotted names also reachable segment by segment, as
// StackStorm's lookups resolve st2kv.system.hello_st2.count to the key
// "hello_st2.count". A name that is also a prefix of another keeps its
// own value.
func (v Values) Tree() map[string]any {
	out := make(map[string]any, len(v.Plain))
	for name, val := range v.Plain {
		out[name] = val
	}
	for name, val := range v.Plain {
		segs := strings.Split(name, ".")
		if _, own := v.Plain[segs[0]]; len(segs) < 2 || own {
			continue // never write into a key's own value
		}
		m := out
		for _, seg := range segs[:len(segs)-1] {
			sub, ok := m[seg].(map[string]any)
			if !ok {
				if _, taken := m[seg]; taken {
					m = nil
					break
				}
				sub = map[string]any{}
				m[seg] = sub
			}
			m = sub
		}
		if m != nil {
			if _, taken := m[segs[len(segs)-1]]; !taken {
				m[segs[len(segs)-1]] = val
			}
		}
	}
	return out
}

// mentionsKeys spares rules and defaults that read no key a database query.
func mentionsKeys(s string) bool {
	return strings.Contains(s, "keystore") || strings.Contains(s, "st2kv")
}

// RuleContext is the rule engine's ContextFunc: it adds the keys visible to
// the rule's pack and names the secret ones.
func (s *Service) RuleContext(ctx context.Context, tx *store.Tx, r *ent.Rule, c rule.Context) ([]string, error) {
	if !mentionsKeys(fmt.Sprint(r.ActionParams)) && !mentionsKeys(fmt.Sprint(r.Criteria)) {
		return nil, nil
	}
	pack := r.PackRef
	if pack == "" {
		pack, _, _ = strings.Cut(r.ActionRef, ".")
	}
	vals, err := s.LookupWith(ctx, tx.Ent, pack)
	if err != nil {
		return nil, err
	}
	ns, secrets := vals.namespaces()
	for k, v := range ns {
		c[k] = v
	}
	return secrets, nil
}

// RenderDefaults fills the parameters a request left out whose schema
// default is a template reading keys ("{{ keystore.api_token }}"). A secret
// key may only fill a parameter declared secret. Returns BAD_USER_INPUT for
// a broken template or a missing key.
func (s *Service) RenderDefaults(ctx context.Context, tx *store.Tx, act *ent.Action, schema param.Schema, given map[string]any) (map[string]any, error) {
	templates := map[string]any{}
	for name, spec := range schema {
		def, ok := spec.Default.(string)
		if v, present := given[name]; (present && v != nil) || !ok || !strings.Contains(def, "{{") || !mentionsKeys(def) {
			continue
		}
		templates[name] = def
	}
	if len(templates) == 0 {
		return given, nil
	}
	t, err := rule.CompileTemplates(templates)
	if err != nil {
		return nil, apperr.Errorf(apperr.BadUserInput, "action %s has a parameter default that is not a valid template: %v", act.Ref, err)
	}
	vals, err := s.LookupWith(ctx, tx.Ent, act.PackRef)
	if err != nil {
		return nil, err
	}
	ns, secrets := vals.namespaces()
	if err := rule.CheckSecretFlow(t.ParamReferences(), secrets, func(p string) bool { return schema[p].Secret }); err != nil {
		return nil, apperr.Errorf(apperr.BadUserInput, "action %s: %v", act.Ref, err)
	}
	rendered, err := t.Render(ns)
	if err != nil {
		var te *rule.TemplateError
		if errors.As(err, &te) {
			return nil, apperr.Errorf(apperr.BadUserInput, "action %s: default of %s: %s", act.Ref, te.Param, te.Message)
		}
		return nil, err
	}
	out := make(map[string]any, len(given)+len(rendered))
	for k, v := range given {
		out[k] = v
	}
	for k, v := range rendered {
		out[k] = v
	}
	return out, nil
}
