package spec

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// st2Example is one workflow action of StackStorm's examples pack.
type st2Example struct {
	meta, file string
	lang       Language
}

// st2Examples reads the orquesta and action-chain action metadata of the examples pack copy in
// testdata/st2examples (see its NOTICE) and returns each action's workflow file and language.
func st2Examples(t *testing.T) []st2Example {
	t.Helper()
	metas, err := filepath.Glob("testdata/st2examples/actions/*.yaml")
	require.NoError(t, err)
	var out []st2Example
	for _, m := range metas {
		data, err := os.ReadFile(m)
		require.NoError(t, err)
		var meta struct {
			RunnerType string `yaml:"runner_type"`
			EntryPoint string `yaml:"entry_point"`
		}
		require.NoError(t, yaml.Unmarshal(data, &meta), m)
		lang, ok := LanguageForRunner(meta.RunnerType)
		require.True(t, ok, "%s: runner %q", m, meta.RunnerType)
		require.NotEmpty(t, meta.EntryPoint, m)
		out = append(out, st2Example{meta: filepath.Base(m), file: path.Join("actions", meta.EntryPoint), lang: lang})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].meta < out[j].meta })
	return out
}

// TestStackStormExamples parses every orquesta and action-chain workflow of StackStorm's
// examples pack in its runner's language. StackStorm accepts every one at registration, and all
// but four when they run: those four are written to fail StackStorm's own inspection, and Parse
// refuses them for the same reasons.
func TestStackStormExamples(t *testing.T) {
	invalid := map[string][]string{
		// StackStorm's action-chain runner: Unable to find node with name "c4" referenced in
		// "on-failure" in task "c1".
		"echochain_task_failure.meta.yaml":      {`actions/chains/echochain_task_failure.yaml:9: task c1: chain[0].on-failure: the task "c4" is not defined`},
		"echochain_top_level_failure.meta.yaml": {`actions/chains/echochain_top_level_failure.yaml:9: task c1: chain[0].on-failure: the task "c4" is not defined`},
		// Orquesta's inspection: a context error, a syntax error and an expression error.
		"orquesta-fail-inspection.yaml": {
			`actions/workflows/tests/orquesta-fail-inspection.yaml:10: task task1: tasks.task1.input: variable "foobar" is referenced before assignment (in <% ctx().foobar %>)`,
			`actions/workflows/tests/orquesta-fail-inspection.yaml:18: task task2: tasks.task2.input: must be a non-empty mapping or a string of key=value pairs, not a list`,
			`actions/workflows/tests/orquesta-fail-inspection.yaml:20: task task2: tasks.task2.next[0].when: bad expression <% <% succeeded() %>: yaql: unexpected character '%' at position 1 in expression "<% succeeded()"`,
		},
		// StackStorm's inspect_task_contents: the action "echo" is not registered.
		"orquesta-fail-inspection-task-contents.yaml": {
			`actions/workflows/tests/orquesta-fail-inspection-task-contents.yaml:16: task task1: tasks.task1.action: "echo" is not an action ref: write pack.name`,
		},
	}
	examples := st2Examples(t)
	require.Len(t, examples, 87, "66 orquesta and 21 action-chain actions")
	counts := map[Language]int{}
	for _, ex := range examples {
		counts[ex.lang]++
		data, err := os.ReadFile(filepath.Join("testdata/st2examples", ex.file))
		require.NoError(t, err)
		wf, err := Parse(ex.file, data, ex.lang)
		want, bad := invalid[ex.meta]
		if !bad {
			require.NoError(t, err, ex.meta)
			require.NotEmpty(t, wf.Start, ex.meta)
			continue
		}
		var se *Error
		require.True(t, errors.As(err, &se), "%s: %v", ex.meta, err)
		var got []string
		for _, p := range se.Problems {
			got = append(got, p.String())
		}
		require.Equal(t, want, got, ex.meta)
	}
	require.Equal(t, map[Language]int{Orquesta: 66, ActionChain: 21}, counts)
}
