package keystore

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/key"
	"github.com/attune-io/attune/ent/schema"
	"github.com/attune-io/attune/internal/jinja"
	"github.com/attune-io/attune/internal/packconfig"
	"github.com/attune-io/attune/internal/param"
)

// engine is the Jinja engine of StackStorm-style templates; decrypt_kv
// opens this store's secrets.
func (s *Service) engine() *jinja.Env {
	s.jinjaOnce.Do(func() {
		s.jinja = jinja.New(jinja.Options{Decrypt: s.decrypt})
	})
	return s.jinja
}

// jinjaState is the lazily built engine (see engine).
type jinjaState struct {
	jinjaOnce sync.Once
	jinja     *jinja.Env
}

// St2kv is the st2kv root of a template context: st2kv.system reads the
// system keys overlaid by pack's own, st2kv.user the user-scoped keys of
// user (none when user is ""), likewise. A secret key reads as its stored,
// encrypted form until decrypt_kv opens it, as in StackStorm.
func (s *Service) St2kv(ctx context.Context, c *ent.Client, pack, user string) (map[string]any, error) {
	system, err := s.st2kvScope(ctx, c, pack, "")
	if err != nil {
		return nil, err
	}
	users := map[string]any{}
	if user != "" {
		if users, err = s.st2kvScope(ctx, c, pack, user); err != nil {
			return nil, err
		}
	}
	return map[string]any{
		"system": (&jinja.Keys{Scope: "st2kv.system", Values: system}).Root(),
		"user":   (&jinja.Keys{Scope: "st2kv.user", Values: users}).Root(),
	}, nil
}

// st2kvScope reads the keys of user ("" for system keys) visible to pack.
func (s *Service) st2kvScope(ctx context.Context, c *ent.Client, pack, user string) (map[string]any, error) {
	ks, err := c.Key.Query().Where(key.PackRefIn("", pack), key.User(user)).All(schema.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, scope := range []string{"", pack} {
		for _, k := range ks {
			if k.PackRef != scope {
				continue
			}
			if k.Secret {
				out[k.Name] = k.Ciphertext
				continue
			}
			v, err := s.Value(k, false)
			if err != nil {
				return nil, err
			}
			out[k.Name] = jinja.ContextValue(v)
		}
	}
	return out, nil
}

// RenderParams renders a StackStorm action's parameters (act with its
// pack edge loaded) as StackStorm does before a run: templates see the
// other parameters, st2kv, config_context (the pack's config) and
// action_context, in dependency order; values are cast to their types.
// user is who started the execution ("" when unknown); extra adds context
// roots (a rule's trigger and rule), also named in action_context.
func (s *Service) RenderParams(ctx context.Context, act *ent.Action, params map[string]any, user string, extra map[string]any) (jinja.Rendered, error) {
	sch, err := param.ParseSchema(act.Parameters)
	if err != nil {
		return jinja.Rendered{}, err
	}
	pack := act.PackRef
	var config any = map[string]any{}
	var secrets []jinja.Secret
	if p := act.Edges.Pack; p != nil {
		// The config as pack code sees it: secrets opened, defaults in.
		effective, err := packconfig.New(s.db, s).Effective(p)
		if err != nil {
			return jinja.Rendered{}, err
		}
		config = jinja.ContextValue(effective)
		// Config fields declared secret taint what they flow into.
		if cs, err := param.ParseSchema(p.ConfSchema); err == nil {
			for _, path := range cs.SecretPaths() {
				if v, ok := param.Lookup(effective, path); ok && v != nil {
					secrets = append(secrets, jinja.Secret(fmt.Sprint(v)))
				}
			}
		}
	}
	actionContext := map[string]any{"pack": pack, "user": user, "api_user": user}
	roots := map[string]any{"config_context": config, "action_context": actionContext}
	for k, v := range extra {
		roots[k] = v
	}
	if r, ok := extra["rule"].(map[string]any); ok {
		actionContext["rule"] = r["ref"]
	}
	if mentions(params, "st2kv") {
		kv, err := s.St2kv(ctx, s.db.Ent, pack, user)
		if err != nil {
			return jinja.Rendered{}, err
		}
		roots["st2kv"] = kv
	} else {
		roots["st2kv"] = map[string]any{}
	}
	r, err := s.engine().RenderParams(params, sch, roots, secrets...)
	for _, sec := range secrets {
		r.Decrypted = append(r.Decrypted, string(sec))
	}
	return r, err
}

// mentions reports whether any string inside v contains word.
func mentions(v any, word string) bool {
	switch t := v.(type) {
	case string:
		return strings.Contains(t, word)
	case map[string]any:
		for _, e := range t {
			if mentions(e, word) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if mentions(e, word) {
				return true
			}
		}
	}
	return false
}
