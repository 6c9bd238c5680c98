package manifest

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func TestLoadPackYAML(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, p *Pack)
		want  []Problem
	}{
		{
			name: "label defaults to ref",
			yaml: "ref: demo\nversion: 1.0.0\n",
			check: func(t *testing.T, p *Pack) {
				require.Equal(t, "demo", p.Label)
				require.Nil(t, p.Config)
				require.Equal(t, 0, len(p.ConfigSchema))
			},
		},
		{
			name:  "name is a label alias when ref is given",
			yaml:  "ref: demo\nname: Demo Pack\nversion: 1.0.0\n",
			check: func(t *testing.T, p *Pack) { require.Equal(t, "Demo Pack", p.Label) },
		},
		{
			name: "ref-like name stands in for ref",
			yaml: "name: my-pack_2\nlabel: Mine\nversion: 1.0.0\n",
			check: func(t *testing.T, p *Pack) {
				require.Equal(t, "my-pack_2", p.Ref)
				require.Equal(t, "Mine", p.Label)
			},
		},
		{
			name:  "semver with prerelease and build",
			yaml:  "ref: demo\nversion: 1.2.3-rc.1+build.5\n",
			check: func(t *testing.T, p *Pack) { require.Equal(t, "1.2.3-rc.1+build.5", p.Version) },
		},
		{
			name: "dates and non-string keys stay JSON-friendly",
			yaml: "ref: demo\nversion: 1.0.0\nconfig: {1: one, true: yes, when: 2024-01-02T03:04:05Z}\n",
			check: func(t *testing.T, p *Pack) {
				require.Equal(t, map[string]any{"1": "one", "true": "yes", "when": "2024-01-02T03:04:05Z"}, p.Config)
			},
		},
		{
			name: "anchors and merge keys",
			yaml: "ref: demo\nversion: 1.0.0\nmeta:\n  base: &b {a: 1}\n  more: {<<: *b, c: 2}\n",
			check: func(t *testing.T, p *Pack) {
				require.Equal(t, map[string]any{"base": map[string]any{"a": 1}, "more": map[string]any{"a": 1, "c": 2}}, p.Meta)
			},
		},
		{
			name: "ref and version missing",
			yaml: "label: x\n",
			want: []Problem{
				{File: PackFile, Line: 1, Field: "ref", Message: "is required"},
				{File: PackFile, Line: 1, Field: "version", Message: `is required (a semver string such as "1.0.0")`},
			},
		},
		{
			name: "empty pack.yaml",
			yaml: "",
			want: []Problem{
				{File: PackFile, Field: "ref", Message: "is required"},
				{File: PackFile, Field: "version", Message: `is required (a semver string such as "1.0.0")`},
			},
		},
		{
			name: "upper-case ref",
			yaml: "version: 1.0.0\nref: Demo\n",
			want: []Problem{{File: PackFile, Line: 2, Field: "ref", Message: `"Demo" must match ^[a-z][a-z0-9_-]{1,63}$ (lower-case, no dots)`}},
		},
		{
			name: "dotted ref",
			yaml: "ref: my.pack\nversion: 1.0.0\n",
			want: []Problem{{File: PackFile, Line: 1, Field: "ref", Message: `"my.pack" must match ^[a-z][a-z0-9_-]{1,63}$ (lower-case, no dots)`}},
		},
		{
			name: "one-letter ref",
			yaml: "ref: a\nversion: 1.0.0\n",
			want: []Problem{{File: PackFile, Line: 1, Field: "ref", Message: `"a" must match ^[a-z][a-z0-9_-]{1,63}$ (lower-case, no dots)`}},
		},
		{
			name: "name that is not ref-like does not stand in",
			yaml: "name: My Pack\nversion: 1.0.0\n",
			want: []Problem{{File: PackFile, Line: 1, Field: "ref", Message: "is required"}},
		},
		{
			name: "unquoted numeric version",
			yaml: "ref: demo\nversion: 1.0\n",
			want: []Problem{{File: PackFile, Line: 2, Field: "version", Message: `must be a semver string such as "1.0.0"; YAML reads 1.0 as a number`}},
		},
		{
			name: "incomplete version",
			yaml: "ref: demo\nversion: \"1.0\"\n",
			want: []Problem{{File: PackFile, Line: 2, Field: "version", Message: `"1.0" is not a semver version X.Y.Z[-prerelease][+build]`}},
		},
		{
			name: "version of the wrong kind",
			yaml: "ref: demo\nversion: [1]\n",
			want: []Problem{{File: PackFile, Line: 2, Field: "version", Message: `must be a semver string such as "1.0.0"`}},
		},
		{
			name: "wrong value types",
			yaml: "ref: demo\nversion: 1.0.0\ndescription: [x]\ntags: x\nkeywords: [1]\ndependencies: [core, 2]\nconfig: [1]\nmetadata: x\n",
			want: []Problem{
				{File: PackFile, Line: 3, Field: "description", Message: "must be a string"},
				{File: PackFile, Line: 4, Field: "tags", Message: "must be a list of strings"},
				{File: PackFile, Line: 6, Field: "dependencies", Message: "item 2 must be a string"},
				{File: PackFile, Line: 7, Field: "config", Message: "must be a mapping"},
				{File: PackFile, Line: 8, Field: "metadata", Message: "must be a mapping"},
			},
		},
		{
			name: "invalid config schema points at the parameter",
			yaml: "ref: demo\nversion: 1.0.0\nconf_schema:\n  ok: {type: string}\n  port: {type: integer, default: http}\n  host: {type: text}\n",
			want: []Problem{
				{File: PackFile, Line: 5, Field: "conf_schema.port", Message: "default must be an integer"},
				{File: PackFile, Line: 6, Field: "conf_schema.host", Message: `unknown type "text" (want string, integer, number, boolean, object, array or any)`},
			},
		},
		{
			name: "config schema that is not a mapping",
			yaml: "ref: demo\nversion: 1.0.0\nconfig_schema: [a]\n",
			want: []Problem{{File: PackFile, Line: 3, Field: "config_schema", Message: "schema must be a mapping of parameter names to specs"}},
		},
		{
			name: "syntax error carries the line",
			yaml: "ref: demo\nversion: 1.0.0\ntags: a: b\n",
			want: []Problem{{File: PackFile, Line: 3, Message: "invalid YAML: mapping values are not allowed in this context"}},
		},
		{
			name: "duplicate key carries the line",
			yaml: "ref: demo\nversion: 1.0.0\nref: other\n",
			want: []Problem{{File: PackFile, Line: 3, Message: `invalid YAML: mapping key "ref" already defined at line 1`}},
		},
		{
			name: "not a mapping",
			yaml: "- ref: demo\n",
			want: []Problem{{File: PackFile, Line: 1, Message: "must be a YAML mapping of keys to values"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{PackFile: tt.yaml}
			if tt.want != nil {
				require.Equal(t, tt.want, problemsOf(t, files))
				return
			}
			tt.check(t, mustLoad(t, files))
		})
	}
}

func TestLoadMissingPackFile(t *testing.T) {
	t.Parallel()
	_, err := Load(fstest.MapFS{"actions/a.yaml": {Data: []byte("ref: demo.a\n")}})
	require.EqualError(t, err, "invalid pack: 1 problem: pack.yaml: file not found")
}

func TestLoadPackFileIsDirectory(t *testing.T) {
	t.Parallel()
	_, err := Load(fstest.MapFS{"pack.yaml/x": {Data: []byte("")}})
	require.EqualError(t, err, "invalid pack: 1 problem: pack.yaml: must be a regular file (symlinks are not allowed)")
}
