package spec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var fuzzLangs = []Language{Attune, Orquesta, ActionChain}

// FuzzParse feeds arbitrary documents to every language: Parse never panics or hangs, fails
// only with an *Error holding located problems, and a workflow it accepts is a consistent graph
// the engine can walk without checks of its own.
// Run with: go test -fuzz FuzzParse ./internal/workflow/spec
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for i := range fuzzLangs {
			f.Add(data, uint8(i))
		}
	}
	for _, s := range []string{
		"", "{}", "[]", "tasks: {a: {next: [{do: a}]}}", "chain: [{name: a, ref: b, on-success: a, on-failure: a}]",
		"version: 1.0\ntasks:\n  a:\n    with: x in <% ctx(y) %>\n    join: 2\n    next: [{do: 'b, c, fail'}]\n  b: {next: [{do: a}]}\n  c: {join: all}\n",
		"tasks: [{name: a, action: x, with_items: '{{ x }}', concurrency: '{{ 2 }}', next: [{when: '{{ (', do: a}]}]",
		"a: &a [*a]\ntasks: *a\n", "vars: &v {x: *v}\n", "tasks:\n  a: !!binary aGVsbG8=\n",
		"chain:\n  - name: a\n    ref: '{{ x }}'\n    on-success: '{% if x %}a{% endif %}'\n",
	} {
		for i := range fuzzLangs {
			f.Add([]byte(s), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		lang := fuzzLangs[int(which)%len(fuzzLangs)]
		start := time.Now()
		wf, err := Parse("f.yaml", data, lang)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Parse took %v", d)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("error without problems: %T %v", err, err)
			}
			for _, p := range e.Problems {
				if p.File != "f.yaml" || p.Message == "" || p.Line < 0 {
					t.Fatalf("badly located problem %+v", p)
				}
			}
			if wf != nil {
				t.Fatal("a workflow returned with an error")
			}
			return
		}
		if len(wf.Order) != len(wf.Tasks) || len(wf.Order) == 0 || len(wf.Start) == 0 {
			t.Fatalf("inconsistent workflow: order %v, %d tasks, start %v", wf.Order, len(wf.Tasks), wf.Start)
		}
		for _, s := range wf.Start {
			if wf.Tasks[s] == nil {
				t.Fatalf("start task %q undefined", s)
			}
		}
		for name, task := range wf.Tasks {
			for _, tr := range task.Transitions {
				if len(tr.Do) == 0 {
					t.Fatalf("task %q has a transition without targets", name)
				}
				for _, d := range tr.Do {
					if d.Kind == TargetTask && wf.Tasks[d.Name] == nil {
						t.Fatalf("task %q leads to undefined %q", name, d.Name)
					}
				}
			}
			for _, in := range task.Inbound {
				if wf.Tasks[in] == nil {
					t.Fatalf("task %q has undefined inbound %q", name, in)
				}
			}
		}
	})
}
