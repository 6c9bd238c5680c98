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
