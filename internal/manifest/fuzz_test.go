package manifest

import (
	"errors"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

// fuzzFS is a small pack whose pack.yaml and one action file are replaced by fuzz input.
func fuzzFS(packYAML, actionYAML []byte) fstest.MapFS {
	return fstest.MapFS{
		PackFile:              {Data: packYAML},
		"actions/a.yaml":      {Data: actionYAML},
		"actions/a.sh":        {Data: []byte("echo hi\n")},
		"triggers/t.yaml":     {Data: []byte("ref: demo.t\npayload: {x: {type: string}}\n")},
		"rules/r.yaml":        {Data: []byte("trigger_ref: t\naction_ref: a\n")},
		"sensors/s.yaml":      {Data: []byte("entry_point: s.sh\ntrigger_types: [t]\n")},
		"sensors/s.sh":        {Data: []byte("")},
		"workflows/w.yaml":    {Data: []byte("tasks: []\n")},
		"actions/lib/x.py":    {Data: []byte("")},
		"actions/not-yaml.md": {Data: []byte("# docs")},
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(basePack), []byte("entry_point: a.sh\nparameters:\n  n: {type: integer, default: 1}\n"))
	f.Add([]byte("name: demo\nversion: 1.0\nconfig_schema: {type: object, properties: {a: {type: string}}}\n"), []byte("name: a\nrunner_type: local\n"))
	f.Add([]byte("ref: demo\nversion: 1.0.0\nmeta: &m {a: *m}\n"), []byte("ref: demo.a\nentry_point: ../../x\n"))
	f.Add([]byte("{"), []byte("- 1"))
	f.Add([]byte("ref: demo\nversion: 1.0.0\nconfig: {<<: [{a: 1}], ? [x] : y}\n"), []byte("workflow_file: lib/x.py\nparameters: {type: object, required: [q]}\n"))
	f.Add([]byte("ref: demo\nversion: 1.0.0\n"), []byte("entry_point: a.sh\nparameters: {a: {type: array, items: {type: string}, default: [1]}}\ntimeout: 1e99\n"))
	f.Fuzz(func(t *testing.T, packYAML, actionYAML []byte) {
		p, err := Load(fuzzFS(packYAML, actionYAML))
		if err != nil {
			_, ok := errors.AsType[*ValidationError](err)
			require.Truef(t, ok, "want *ValidationError, got %T", err)
			require.NotEmpty(t, err.Error())
			return
		}
		require.NotEmpty(t, p.Ref)
		require.NotEmpty(t, p.Version)
		for _, a := range p.Actions {
			require.NotNil(t, a.Parameters)
		}
		_, _ = p.CheckRefs(func(Kind, string) bool { return false })
	})
}

func BenchmarkLoad(b *testing.B) {
	fsys := fuzzFS([]byte(basePack+"conf_schema:\n  token: {type: string, secret: true}\n"),
		[]byte("entry_point: a.sh\nparameters:\n  n: {type: integer, default: 1}\n  s: {type: string, enum: [a, b]}\n"))
	for b.Loop() {
		if _, err := Load(fsys); err != nil {
			b.Fatal(err)
		}
	}
}
