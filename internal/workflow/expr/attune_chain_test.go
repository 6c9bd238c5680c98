package expr

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/workflow/spec"
)

// attune's workflow files (the reference's §6 context namespaces and workflow functions).
func TestAttune(t *testing.T) {
	var kvAsked []string
	scope := func(vars map[string]any) *Scope {
		kvAsked = nil
		return &Scope{
			Vars:       map[string]any{"status": "pending", "count": float64(2)},
			Parameters: map[string]any{"app": "web", "regions": []any{"eu", "us"}},
			Tasks: map[string]TaskState{
				"validate": {Status: StatusSucceeded, Result: map[string]any{"ok": true, "data": map[string]any{"version": "1.2"}, "stdout": `{"parsed": 7}`}},
				"deploy":   {Status: StatusFailed, Result: "boom"},
			},
			Current:     &TaskState{Status: StatusTimedOut, Result: map[string]any{"error": "too slow"}},
			CurrentName: "deploy_each",
			HasItem:     true, Item: "eu", Index: 1,
			Config: map[string]any{"url": "https://x"},
			KV: func(key string, decrypt bool) (any, error) {
				kvAsked = append(kvAsked, key)
				if key == "token" && decrypt {
					return "s3cret", nil
				}
				return nil, errors.Join(ErrKeyNotFound, errors.New("no key "+key))
			},
		}
	}
	runCases(t, spec.Attune, scope, []evalCase{
		{name: "parameters", expr: "{{ parameters.app }}", want: "web"},
		{name: "parameters typed", expr: "{{ parameters.regions }}", want: []any{"eu", "us"}},
		{name: "workflow", expr: "{{ workflow.status }}", want: "pending"},
		{name: "vars alias", expr: "{{ vars.count + variables.count }}", want: int64(4)},
		{name: "bare name", expr: "{{ status }}", want: "pending"},
		{name: "task result", expr: "{{ task.validate.result.ok }}", want: true},
		{name: "task status", expr: "{{ task.deploy.status }}", want: StatusFailed},
		{name: "task data", expr: "{{ task.validate.data.version }}", want: "1.2"},
		{name: "task flattened", expr: "{{ task.validate.version }} {{ task.validate.ok }} {{ tasks.validate.parsed }}", want: "1.2 True 7"},
		{name: "task unknown", expr: "{{ task.nope.result }}", err: "Unable to evaluate expression '{{ task.nope.result }}'"},
		{name: "config", expr: "{{ config.url }}", want: "https://x"},
		{name: "keystore", expr: "{{ keystore.token }}", want: "s3cret"},
		{name: "keystore function", expr: "{{ keystore('token') }}", want: "s3cret"},
		{name: "keystore missing", expr: "{{ keystore.nope }}", err: "no key nope"},
		{name: "item index", expr: "{{ item }}-{{ index }}", want: "eu-1"},
		{name: "index typed", expr: "{{ index }}", want: int64(1)},
		{name: "result", expr: "{{ result().error }}", want: "too slow"},
		{name: "timed_out", expr: "{{ timed_out() }}", want: true},
		{name: "failed", expr: "{{ failed() }}", want: false},
		{name: "succeeded", expr: "{{ succeeded() }}", want: false},
		{name: "cancelled", expr: "{{ cancelled() }}", want: false},
		{name: "mixed text", expr: "{{ parameters.app }} x{{ parameters.regions | length }}", want: "web x2"},
		{name: "length", expr: "{{ length(parameters.regions) }} {{ length('héllo') }} {{ length(config) }}", want: "2 5 1"},
		{name: "type_of", expr: "{{ type_of(parameters.regions) }} {{ type_of(None) }} {{ type_of(1.5) }} {{ type_of(config) }} {{ type_of('') }} {{ type_of(true) }}", want: "array null number object string boolean"},
		{name: "conversions", expr: "{{ [int('42'), int(3.9), number('1.5'), bool(''), bool([1]), string(12)] }}", want: []any{int64(42), int64(3), 1.5, false, true, "12"}},
		{name: "keys values", expr: "{{ [keys({'b': 1, 'a': 2}), values({'b': 1, 'a': 2})] }}", want: []any{[]any{"a", "b"}, []any{int64(2), int64(1)}}},
		{name: "math", expr: "{{ [abs(-2), floor(1.5), ceil(1.2), round(2.5), min(3, 1, 2), max([1, 5]), sum([1, 2.5])] }}", want: []any{int64(2), int64(1), int64(2), int64(2), int64(1), int64(5), 3.5}},
		{name: "strings", expr: "{{ [lower('A'), upper('b'), trim(' c '), split('a,b', ','), join(['a', 1], '-'), replace('aXa', 'X', 'y'), starts_with('abc', 'ab'), ends_with('abc', 'x'), match('v12', '^v[0-9]+$')] }}",
			want: []any{"a", "B", "c", []any{"a", "b"}, "a-1", "aya", true, false, true}},
		{name: "collections", expr: "{{ [contains([1, 2], 2), contains('abc', 'd'), contains({'k': 1}, 'k'), reversed([1, 2]), sort([3, 1, 2]), unique([1, 1, 2]), flat([[1], 2, [3, 4]])] }}",
			want: []any{true, false, true, []any{int64(2), int64(1)}, []any{int64(1), int64(2), int64(3)}, []any{int64(1), int64(2)}, []any{int64(1), int64(2), int64(3), int64(4)}}},
		{name: "builtin as filter", expr: "{{ parameters.regions | reversed | join('+') }}", want: "us+eu"},
		{name: "builtin error", expr: "{{ length(3) }}", err: "length() of number"},
		{name: "yaql is text", expr: "<% ctx().x %>", want: "<% ctx().x %>"},
		{name: "map", expr: map[string]any{"region": "{{ item }}", "n": "{{ index }}", "k{{ index }}": 1.5}, want: map[string]any{"region": "eu", "n": int64(1), "k1": 1.5}},
	})
	// keystore reads only the keys an expression names.
	e := New(spec.Attune, testEnv)
	sc := scope(nil)
	_, err := e.Render("{{ parameters.app }}", sc)
	require.NoError(t, err)
	require.Empty(t, kvAsked)
	_, err = e.Render("{{ keystore.token }}", sc)
	require.NoError(t, err)
	require.Equal(t, []string{"token"}, kvAsked)
}

// action-chains render as st2's action_chain_runner: _resolve_params and _render_publish_vars
// with jinja_utils.render_values.
func TestActionChain(t *testing.T) {
	scope := func(vars map[string]any) *Scope {
		v := map[string]any{"greeting": "hi", "n": float64(3)}
		for k, x := range vars {
			v[k] = x
		}
		return &Scope{
			Vars:       v,
			Parameters: map[string]any{"who": "world", "count": 2},
			Tasks: map[string]TaskState{
				"c1": {Status: StatusSucceeded, Result: map[string]any{"stdout": "out1", "return_code": 0, "result": map[string]any{"k": "v"}}},
			},
			Current:     &TaskState{Status: StatusTimedOut, Result: map[string]any{"stdout": "out2"}},
			CurrentName: "c2",
			Config:      map[string]any{"api": "u"},
			St2:         map[string]any{"action_execution_id": "ex1", "user": "stanley", "pack": "examples"},
			KV: func(key string, decrypt bool) (any, error) {
				switch key {
				case "system.a":
					return "A", nil
				case "system.a.b":
					return "AB", nil
				case "mine":
					return "M", nil
				case "system.secret":
					if decrypt {
						return "plain", nil
					}
					return "cipher", nil
				}
				return nil, errors.Join(ErrKeyNotFound, errors.New("no "+key))
			},
		}
	}
	runCases(t, spec.ActionChain, scope, []evalCase{
		{name: "parameter", expr: "{{ who }}", want: "world"},
		{name: "earlier node", expr: "{{ c1.stdout }}", want: "out1"},
		{name: "earlier node result", expr: "{{ c1.result.k }}", want: "v"},
		{name: "current node (publish)", expr: "{{ c2.stdout }}", want: "out2"},
		{name: "__results", expr: "{{ __results.c1.return_code }}", want: "0"},
		{name: "vars", expr: "{{ greeting }} {{ n }}", want: "hi 3"},
		{name: "strings stay strings", expr: "{{ count }}", want: "2"},
		{name: "dict prints as Python", expr: "{{ c1.result }}", want: "{'k': 'v'}"},
		{name: "st2kv.system", expr: "{{ st2kv.system.a }}", want: "A"},
		{name: "st2kv.system dotted", expr: "{{ st2kv.system.a.b }}", want: "AB"},
		{name: "st2kv.user", expr: "{{ st2kv.user.mine }}", want: "M"},
		{name: "decrypt_kv", expr: "{{ st2kv.system.secret | decrypt_kv }}", want: "plain"},
		{name: "stored form", expr: "{{ st2kv.system.secret }}", want: "cipher"},
		{name: "decrypt_kv missing", expr: "{{ st2kv.system.nope | decrypt_kv }}", err: "doesn't exist"},
		{name: "system legacy", expr: "{{ system.a }}", want: "A"},
		{name: "missing key is empty", expr: "[{{ st2kv.system.nope }}]", want: "[]"},
		{name: "action_context", expr: "{{ action_context.parent.execution_id }} {{ action_context.parent.user }}", want: "ex1 stanley"},
		{name: "config_context", expr: "{{ config_context.api }}", want: "u"},
		{name: "filters", expr: "{{ c1.result | to_json_string }}", want: `{"k": "v"}`},
		{name: "undefined", expr: "{{ nope }}", err: "'nope' is undefined"},
		{name: "no template keeps value", expr: 5, want: int64(5)},
		{name: "mapping", expr: map[string]any{
			"a": "{{ who }}", "b": []any{"{{ c1.stdout }}", 1}, "c": map[string]any{"k": "{{ count }}"},
			"d": true, "e": []any{"x", 2}, "{{ who }}": "keys are not rendered",
		}, want: map[string]any{
			"a": "world", "b": []any{"out1", int64(1)}, "c": map[string]any{"k": "2"},
			"d": true, "e": []any{"x", int64(2)}, "{{ who }}": "keys are not rendered",
		}},
		{name: "list through JSON", expr: []any{"{{ who }}"}, want: []any{"world"}},
		{name: "broken JSON after rendering", expr: map[string]any{"a": []any{"{{ q }}"}}, vars: map[string]any{"q": `say "hi"`}, err: "Unable to evaluate expression"},
	})
	// An action-chain's on-failure follows failed and timed-out actions.
	e := New(spec.ActionChain, testEnv)
	ok, err := e.Truth("{{ failed() }}", scope(nil))
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = e.Truth("{{ succeeded() }}", scope(nil))
	require.NoError(t, err)
	require.False(t, ok)
}
