package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/Khan/genqlient/graphql"
	"github.com/spf13/cobra"

	"github.com/attune-io/attune/internal/param"
)

func (a *app) packConfigCommand() *cobra.Command {
	var decrypt bool
	var sets []string
	c := &cobra.Command{
		Use:   "config REF [--set name=value | --set name:=json]...",
		Short: "Show a pack's config, or change fields of it",
		Long: `Shows the config a pack's actions, sensors and rules see: the operator's
values over the schema's defaults (config.schema.yaml), nested fields as
dotted names. Secret fields read ******** unless --decrypt is given, which
needs an ADMIN token.

--set name=value (repeatable) changes only the fields given: values are
typed by the pack's config schema (integer, number, boolean, array as a,b,c
or JSON, object as JSON), name=@file reads the value from a file, name:=JSON
gives any JSON value, and a dotted name (auth.user=ops) sets a nested field.
The server merges them into the stored config; the fields not given keep
their values, or keep following the schema's defaults when they were never
set, and secrets are kept. The merged config is checked by the server; every
field that does not fit is listed and attune exits 2. Changing a config
needs an EDITOR token.`,
		Args:              nArgs(1, 1),
		ValidArgsFunction: a.completePacks,
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := a.gql()
			if err != nil {
				return err
			}
			if len(sets) == 0 {
				res, err := PackConfig(c.Context(), cl, args[0], &decrypt)
				if err != nil {
					return err
				}
				return a.printConfig(res.Pack.Config)
			}
			return a.setPackConfig(c.Context(), cl, args[0], sets)
		},
	}
	c.Flags().BoolVar(&decrypt, "decrypt", false, "show secret fields in clear (ADMIN)")
	c.Flags().StringArrayVar(&sets, "set", nil, "set a field: name=value, name=@file or name:=json (repeatable; dotted names for nested fields)")
	return c
}

// setPackConfig sends only the --set fields, typed by the pack's config
// schema, with merge: the server merges them into the stored config (the
// operator's values, not the defaults) in one transaction, so the other
// fields keep following the pack's defaults and its secrets are kept.
func (a *app) setPackConfig(ctx context.Context, cl graphql.Client, ref string, sets []string) error {
	cur, err := PackSchema(ctx, cl, ref)
	if err != nil {
		return err
	}
	schema, err := actionSchema(cur.Pack.ConfSchema)
	if err != nil {
		return fmt.Errorf("the pack's config schema: %w", err)
	}
	config := map[string]any{}
	for _, arg := range sets {
		name, v, err := parseAssign(arg, func(name string) param.Spec { return specAt(schema, name) })
		if err != nil {
			return err
		}
		putPath(config, strings.Split(name, "."), v)
	}
	raw, err := json.Marshal(config)
	if err != nil {
		return err
	}
	merge := true
	res, err := SetPackConfig(ctx, cl, SetPackConfigInput{Pack: ref, Config: raw, Merge: &merge})
	if err != nil {
		return err
	}
	return a.printConfig(res.SetPackConfig.Config)
}

// printConfig prints a config: FIELD/VALUE rows with nested fields as
// dotted names, or the config itself as JSON or YAML.
func (a *app) printConfig(raw *json.RawMessage) error {
	var config any = map[string]any{}
	if raw != nil && string(*raw) != "null" {
		g, err := generic(raw)
		if err != nil {
			return err
		}
		config = g
	}
	if a.output != "table" {
		return a.printObject(config, nil)
	}
	m, _ := config.(map[string]any)
	var rows [][]string
	if keys := a.fields(nil); keys != nil {
		for _, k := range keys {
			rows = append(rows, []string{k, cell(lookup(m, k))})
		}
	} else {
		rows = flatRows(m, "")
	}
	return a.table([]string{"field", "value"}, rows)
}

// flatRows lists a config's leaves as dotted name/value rows, sorted by
// name; an empty object is a leaf.
func flatRows(m map[string]any, prefix string) [][]string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var rows [][]string
	for _, k := range names {
		if sub, ok := m[k].(map[string]any); ok && len(sub) > 0 {
			rows = append(rows, flatRows(sub, prefix+k+".")...)
			continue
		}
		rows = append(rows, []string{prefix + k, cell(m[k])})
	}
	return rows
}

// specAt is the spec of a dotted field name, through the schema's nested
// properties; the zero spec (a string) for a field the schema does not name.
func specAt(schema param.Schema, name string) param.Spec {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		spec, ok := schema[p]
		if !ok {
			return param.Spec{}
		}
		if i == len(parts)-1 {
			return spec
		}
		schema = spec.Properties
	}
	return param.Spec{}
}

// putPath sets the value at path in m, replacing anything on the way that
// is not an object.
func putPath(m map[string]any, path []string, v any) {
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
