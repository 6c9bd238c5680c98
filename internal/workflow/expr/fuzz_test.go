package expr

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/workflow/spec"
)

func fuzzScope() *Scope {
	return &Scope{
		Vars:       map[string]any{"s": "x", "l": []any{1, "a", nil}, "m": map[string]any{"k": []any{1.5}}, "__p": 1},
		Parameters: map[string]any{"p": 1},
		Tasks:      map[string]TaskState{"t": {Status: StatusSucceeded, Result: map[string]any{"stdout": "o"}}},
		Current:    &TaskState{Status: StatusFailed, Result: "r"},
		HasItem:    true, Item: map[string]any{"x": 1}, ItemVars: map[string]any{"x": 1},
		Config: map[string]any{"c": true},
		KV: func(key string, decrypt bool) (any, error) {
			if key == "k" {
				return "v", nil
			}
			return nil, ErrKeyNotFound
		},
		St2: map[string]any{"user": "u"},
	}
}

// Render never panics, whatever the expression text, in any language.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"{{ ctx().s }}", "{{ ctx('l')[0] }}", "<% ctx().l.select($) %>", "{% for i in ctx().l %}{{ i }}{% endfor %}",
		"{% raw %}{{ x }}{% endraw %}", "{{ zip(ctx().l, [1], pad=2) }}", "{{ item('x') }}", "{{ st2kv('k') }}",
		"{{ keystore.k }}", "{{ task.t.stdout }}", "{{ st2kv.system.a.b }}", "{{ json('{') }}", "{{ {{ }}", "{{ ctx() }}{{",
		"<% <% %> %>", "{{ '{{ ctx().s }}' }}", "{{ range(10) | list }}", "{{ result() }}", "{{ _.s }}",
		"{{ ctx().m.k[0] * 2 }}", "{% if x %}", "{{ (1, 2) }}", "{{ from_json_string('[1') }}",
	} {
		f.Add(s)
	}
	evs := []*Evaluator{New(spec.Orquesta, testEnv), New(spec.Attune, testEnv), New(spec.ActionChain, testEnv)}
	f.Fuzz(func(t *testing.T, text string) {
		for _, e := range evs {
			v, err := e.Render(text, fuzzScope())
			if err != nil {
				var ee *Error
				if !errors.As(err, &ee) {
					t.Fatalf("%s: %q: error %T is not *Error: %v", e.lang, text, err, err)
				}
				continue
			}
			_ = fmt.Sprint(v)
			_, _ = e.Render(map[string]any{text: []any{text}}, fuzzScope())
			_, _ = e.Truth(text, fuzzScope())
		}
	})
}

// One Evaluator serves many goroutines (run with -race).
func TestConcurrentRender(t *testing.T) {
	e := New(spec.Orquesta, testEnv)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				sc := &Scope{Vars: map[string]any{"n": g*1000 + i}, Current: &TaskState{Status: StatusSucceeded, Result: i}}
				v, err := e.Render(map[string]any{"a": "{{ ctx().n }}", "b": "<% ctx().n %>", "c": "{{ result() }}"}, sc)
				if err != nil {
					t.Error(err)
					return
				}
				want := map[string]any{"a": int64(g*1000 + i), "b": int64(g*1000 + i), "c": int64(i)}
				if !equal(v, want) {
					t.Errorf("got %v want %v", v, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func equal(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func TestTextBounded(t *testing.T) {
	big := strings.Repeat("x", maxText/2+1)
	for _, text := range []string{"{{ ctx().b }}{{ ctx().b }}", "<% ctx().b %><% ctx().b %>"} {
		_, err := New(spec.Orquesta, testEnv).Render(text, &Scope{Vars: map[string]any{"b": big}})
		require.ErrorContains(t, err, "the rendered text is longer than")
	}
	v, err := New(spec.Orquesta, testEnv).Render("{{ ctx().b }}", &Scope{Vars: map[string]any{"b": big}})
	require.NoError(t, err)
	require.Len(t, v, len(big))
}

// The cache stays bounded.
func TestCacheBounded(t *testing.T) {
	e := &Evaluator{lang: spec.Orquesta, jinja: New(spec.Orquesta, testEnv).jinja, cache: newCache(16)}
	for i := range 100 {
		v, err := e.Render(fmt.Sprintf("{{ %d }}", i), &Scope{})
		require.NoError(t, err)
		require.Equal(t, int64(i), v)
	}
	require.LessOrEqual(t, len(e.cache.m), 16)
}

func TestNewShares(t *testing.T) {
	require.Same(t, New(spec.Orquesta, testEnv), New(spec.Orquesta, testEnv))
	require.NotSame(t, New(spec.Orquesta, testEnv), New(spec.Attune, testEnv))
	require.Same(t, New(spec.Attune, nil), New(spec.Attune, nil))
}

// BenchmarkRender is what the engine does on one task transition: a condition, a publish and
// the next task's input, in Jinja and YAQL.
func BenchmarkRender(b *testing.B) {
	vars := map[string]any{"host": "web1", "count": int64(3), "items": []any{"a", "b", "c"}}
	for i := range 30 {
		vars[fmt.Sprintf("v%d", i)] = map[string]any{"x": int64(i), "y": "text"}
	}
	sc := &Scope{Vars: vars, Current: &TaskState{Status: StatusSucceeded, Result: map[string]any{"stdout": "ok", "return_code": int64(0)}}, CurrentName: "t1"}
	for _, c := range []struct {
		name  string
		lang  spec.Language
		when  string
		input map[string]any
	}{
		{"jinja", spec.Orquesta, "{{ succeeded() and result().return_code == 0 }}", map[string]any{"out": "{{ result().stdout }}", "cmd": "echo {{ ctx().host }} {{ ctx().count }}", "items": "{{ ctx().items }}"}},
		{"yaql", spec.Orquesta, "<% succeeded() and result().return_code = 0 %>", map[string]any{"out": "<% result().stdout %>", "cmd": "echo <% ctx().host %> <% ctx().count %>", "items": "<% ctx().items %>"}},
		{"attune", spec.Attune, "{{ succeeded() }}", map[string]any{"out": "{{ result().stdout }}", "cmd": "echo {{ workflow.host }}", "items": "{{ workflow.items }}"}},
		{"action-chain", spec.ActionChain, "{{ succeeded() }}", map[string]any{"out": "{{ t1.stdout }}", "cmd": "echo {{ host }}", "items": []any{"{{ count }}"}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e := New(c.lang, testEnv) // as the engine does, every step
				if ok, err := e.Truth(c.when, sc); err != nil || !ok {
					b.Fatal(ok, err)
				}
				if _, err := e.Render(c.input, sc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
