package rule

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testNow is the clock for timediff cases.
var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testPayload returns a fresh payload decoded from JSON, as events arrive, plus a few Go
// numeric types that yaml.v3 or Go callers produce.
func testPayload(t testing.TB) map[string]any {
	t.Helper()
	var p map[string]any
	require.NoError(t, json.Unmarshal([]byte(`{
		"severity": "High",
		"count": 5,
		"numstr": "10",
		"flag": true,
		"nothing": null,
		"tags": ["prod", "eu", 3],
		"host": "web-01.example.com",
		"path": "/var/log/app.log",
		"bracket": "a[b",
		"meta": {"team": "ops", "level": 2},
		"multi": "line1\nline2",
		"date": "2024-03-01",
		"ts_recent": "2026-01-02T03:04:00Z",
		"ts_nozone": "2026-01-02 03:04:00",
		"ts_old": "2026-01-01T03:04:05+00:00",
		"ts_bad": "yesterday",
		"items": [{"name": "a", "status": "ok"}, {"name": "b", "status": "failed"}],
		"empty": []
	}`), &p))
	p["small"] = uint8(7)
	p["f32"] = float32(0.5)
	p["jsonnum"] = json.Number("5")
	p["withnull"] = []any{nil, 1}
	p["big"] = int64(1) << 40
	p["ts_epoch"] = testNow.Unix() - 30
	p["ts_epochstr"] = fmt.Sprint(testNow.Unix() - 30)
	return p
}

// noPattern marks a spec without a "pattern" field.
type noPattern struct{}

// spec builds a criteria entry.
func spec(typ string, pattern any) map[string]any {
	if _, ok := pattern.(noPattern); ok {
		return map[string]any{"type": typ}
	}
	return map[string]any{"type": typ, "pattern": pattern}
}

func searchSpec(condition string, pattern map[string]any) map[string]any {
	return map[string]any{"type": "search", "condition": condition, "pattern": pattern}
}

func TestMatchOperators(t *testing.T) {
	t.Parallel()

	none := noPattern{}
	tests := []struct {
		key   string
		entry map[string]any
		want  bool
	}{
		// equals / eq
		{"trigger.severity", spec("equals", "High"), true},
		{"trigger.severity", spec("eq", "high"), false},
		{"trigger.severity", spec("EQUALS", "High"), true},
		{"trigger.count", spec("equals", 5), true},
		{"trigger.count", spec("equals", 5.0), true},
		{"trigger.count", spec("equals", "5"), false},
		{"trigger.small", spec("equals", 7.0), true},
		{"trigger.big", spec("equals", float64(int64(1)<<40)), true},
		{"trigger.f32", spec("equals", 0.5), true},
		{"trigger.jsonnum", spec("equals", 5), true},
		{"trigger.withnull", spec("equals", []any{nil, 1}), true},
		{"trigger.withnull", spec("equals", []any{false, 1}), false},
		{"trigger.flag", spec("equals", true), true},
		{"trigger.flag", spec("equals", 1), false},
		{"trigger.meta", spec("equals", map[string]any{"team": "ops", "level": 2}), true},
		{"trigger.meta", spec("equals", map[string]any{"team": "ops"}), false},
		{"trigger.tags", spec("equals", []any{"prod", "eu", 3}), true},
		{"trigger.tags", spec("equals", []any{"eu", "prod", 3}), false},
		{"trigger.missing", spec("equals", "x"), false},
		// nequals / neq
		{"trigger.severity", spec("nequals", "Low"), true},
		{"trigger.severity", spec("neq", "High"), false},
		{"trigger.count", spec("nequals", "5"), true},
		{"trigger.missing", spec("nequals", "x"), false},
		{"trigger.nothing", spec("nequals", "x"), false},
		// iequals / ieq
		{"trigger.severity", spec("iequals", "high"), true},
		{"trigger.severity", spec("ieq", "HIGH"), true},
		{"trigger.severity", spec("iequals", "low"), false},
		{"trigger.count", spec("iequals", "5"), false},
		{"trigger.missing", spec("iequals", "x"), false},
		// contains
		{"trigger.tags", spec("contains", "prod"), true},
		{"trigger.tags", spec("contains", 3), true},
		{"trigger.tags", spec("contains", "us"), false},
		{"trigger.host", spec("contains", "example"), true},
		{"trigger.host", spec("contains", "EXAMPLE"), false},
		{"trigger.meta", spec("contains", "team"), true},
		{"trigger.meta", spec("contains", "ops"), false},
		{"trigger.host", spec("contains", 1), false},
		{"trigger.count", spec("contains", "5"), false},
		{"trigger.missing", spec("contains", "x"), false},
		// icontains
		{"trigger.host", spec("icontains", "EXAMPLE"), true},
		{"trigger.host", spec("icontains", "nope"), false},
		{"trigger.tags", spec("icontains", "PROD"), false},
		{"trigger.missing", spec("icontains", "x"), false},
		// ncontains
		{"trigger.tags", spec("ncontains", "us"), true},
		{"trigger.tags", spec("ncontains", "prod"), false},
		{"trigger.host", spec("ncontains", "db"), true},
		{"trigger.count", spec("ncontains", "5"), false},
		{"trigger.missing", spec("ncontains", "x"), false},
		// incontains
		{"trigger.host", spec("incontains", "NOPE"), true},
		{"trigger.host", spec("incontains", "WEB"), false},
		{"trigger.count", spec("incontains", "x"), false},
		{"trigger.missing", spec("incontains", "x"), false},
		// startswith / istartswith / endswith / iendswith
		{"trigger.host", spec("startswith", "web-"), true},
		{"trigger.host", spec("startswith", "WEB-"), false},
		{"trigger.count", spec("startswith", "5"), false},
		{"trigger.missing", spec("startswith", ""), false},
		{"trigger.host", spec("istartswith", "WEB-"), true},
		{"trigger.host", spec("istartswith", "DB"), false},
		{"trigger.host", spec("endswith", ".com"), true},
		{"trigger.host", spec("endswith", ".COM"), false},
		{"trigger.host", spec("iendswith", ".COM"), true},
		{"trigger.host", spec("iendswith", ".ORG"), false},
		{"trigger.flag", spec("iendswith", "e"), false},
		// lessthan / lt
		{"trigger.count", spec("lessthan", 10), true},
		{"trigger.count", spec("lt", 5), false},
		{"trigger.count", spec("lessthan", 3), false},
		{"trigger.count", spec("lessthan", "10"), true},
		{"trigger.numstr", spec("lessthan", 20), true},
		{"trigger.date", spec("lessthan", "2024-04-01"), true},
		{"trigger.date", spec("lt", "2024-01-01"), false},
		{"trigger.severity", spec("lessthan", 10), false},
		{"trigger.count", spec("lessthan", "zzz"), false},
		{"trigger.tags", spec("lessthan", 10), false},
		{"trigger.flag", spec("lessthan", 10), false},
		{"trigger.missing", spec("lessthan", 10), false},
		// greaterthan / gt
		{"trigger.count", spec("greaterthan", 3), true},
		{"trigger.count", spec("gt", 5), false},
		{"trigger.numstr", spec("greaterthan", "9"), true}, // numeric, not "10" < "9"
		{"trigger.date", spec("gt", "2024-01-01"), true},
		{"trigger.meta", spec("greaterthan", 1), false},
		{"trigger.missing", spec("greaterthan", 1), false},
		// matchwildcard
		{"trigger.host", spec("matchwildcard", "web-*.example.com"), true},
		{"trigger.path", spec("matchwildcard", "*.log"), true},
		{"trigger.host", spec("matchwildcard", "web-0?.example.com"), true},
		{"trigger.host", spec("matchwildcard", "web-[0-9][0-9].*"), true},
		{"trigger.host", spec("matchwildcard", "web-[!0]*"), false},
		{"trigger.host", spec("matchwildcard", "WEB*"), false},
		{"trigger.host", spec("matchwildcard", "web"), false},
		{"trigger.bracket", spec("matchwildcard", "a[b"), true},
		{"trigger.host", spec("matchwildcard", "web-01.example.co[m"), false},
		{"trigger.count", spec("matchwildcard", "*"), false},
		{"trigger.missing", spec("matchwildcard", "*"), false},
		// matchregex: anchored at the start, DOTALL
		{"trigger.host", spec("matchregex", "web"), true},
		{"trigger.host", spec("matchregex", "example"), false},
		{"trigger.multi", spec("matchregex", "line1.line2"), true},
		{"trigger.count", spec("matchregex", ".*"), false},
		// regex: search anywhere, no DOTALL
		{"trigger.host", spec("regex", "example"), true},
		{"trigger.host", spec("regex", "^example"), false},
		{"trigger.multi", spec("regex", "line1.line2"), false},
		{"trigger.missing", spec("regex", ".*"), false},
		// iregex
		{"trigger.host", spec("iregex", "EXAMPLE"), true},
		{"trigger.host", spec("iregex", "^DB"), false},
		{"trigger.flag", spec("iregex", "true"), false},
		// timediff_lt / td_lt, timediff_gt / td_gt
		{"trigger.ts_recent", spec("timediff_lt", 60), true},
		{"trigger.ts_old", spec("td_lt", 60), false},
		{"trigger.ts_epoch", spec("timediff_lt", 60), true},
		{"trigger.ts_epochstr", spec("timediff_lt", "60"), true},
		{"trigger.ts_nozone", spec("timediff_lt", 10), true},
		{"trigger.ts_nozone", spec("timediff_lt", 4), false},
		{"trigger.ts_old", spec("timediff_gt", 3600), true},
		{"trigger.ts_recent", spec("td_gt", 3600), false},
		{"trigger.ts_epoch", spec("timediff_gt", 10), true},
		{"trigger.missing", spec("timediff_gt", 10), false},
		// exists / nexists
		{"trigger.severity", spec("exists", none), true},
		{"trigger.missing", spec("exists", none), false},
		{"trigger.nothing", spec("exists", none), false},
		{"trigger", spec("exists", none), true},
		{"trigger.missing", spec("nexists", none), true},
		{"trigger.nothing", spec("nexists", none), true},
		{"trigger.meta.team.x", spec("nexists", none), true},
		{"trigger.severity", spec("nexists", none), false},
		// inside / in, ninside / nin
		{"trigger.severity", spec("inside", []any{"High", "Low"}), true},
		{"trigger.count", spec("in", []any{1, 5}), true},
		{"trigger.severity", spec("inside", "High,Low"), true},
		{"trigger.meta.team", spec("inside", map[string]any{"ops": 1}), true},
		{"trigger.severity", spec("in", []any{"Low"}), false},
		{"trigger.count", spec("inside", "12345"), false},
		{"trigger.missing", spec("inside", []any{"x"}), false},
		{"trigger.severity", spec("ninside", []any{"Low"}), true},
		{"trigger.severity", spec("nin", []any{"High"}), false},
		{"trigger.count", spec("ninside", "12345"), false},
		{"trigger.missing", spec("ninside", []any{"x"}), false},
		// search
		{"trigger.items", searchSpec("any", map[string]any{"item.name": spec("equals", "b")}), true},
		{"trigger.items", searchSpec("any", map[string]any{"item.name": spec("equals", "z")}), false},
		{"trigger.items", searchSpec("any", map[string]any{
			"item.name": spec("equals", "b"), "item.status": spec("equals", "ok"),
		}), false},
		{"trigger.items", searchSpec("all", map[string]any{"item.name": spec("exists", none)}), true},
		{"trigger.items", searchSpec("all", map[string]any{"item.status": spec("equals", "ok")}), false},
		{"trigger.tags", searchSpec("any", map[string]any{"item": spec("equals", "eu")}), true},
		{"trigger.empty", searchSpec("all", map[string]any{"item": spec("exists", none)}), true},
		{"trigger.empty", searchSpec("any", map[string]any{"item": spec("exists", none)}), false},
		{"trigger.severity", searchSpec("any", map[string]any{"item": spec("exists", none)}), false},
		{"trigger.missing", searchSpec("all", map[string]any{"item": spec("exists", none)}), false},
		// paths
		{"event.payload.severity", spec("equals", "High"), true},
		{"trigger.items.1.status", spec("equals", "failed"), true},
		{"trigger.items.2.status", spec("exists", none), false},
		{"trigger.items.-1.status", spec("exists", none), false},
		{"trigger.tags.x", spec("exists", none), false},
		{"trigger.meta.level", spec("gt", 1), true},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s/%v/%v", tt.key, tt.entry["type"], tt.entry["pattern"])
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := CompileCriteria(map[string]any{tt.key: tt.entry})
			require.NoError(t, err)
			got, err := c.Match(testPayload(t), testNow)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestMatchIsConjunction(t *testing.T) {
	t.Parallel()

	raw := map[string]any{
		"trigger.severity": spec("equals", "High"),
		"trigger.tags":     spec("contains", "prod"),
	}
	c, err := CompileCriteria(raw)
	require.NoError(t, err)
	payload := testPayload(t)
	ok, err := c.Match(payload, testNow)
	require.NoError(t, err)
	require.True(t, ok)

	payload["tags"] = []any{"dev"}
	ok, err = c.Match(payload, testNow)
	require.NoError(t, err)
	require.False(t, ok)
}

func TestEmptyCriteriaMatchesEverything(t *testing.T) {
	t.Parallel()

	var nilCriteria *Criteria
	for _, c := range []*Criteria{nilCriteria, mustCompile(t, nil), mustCompile(t, map[string]any{})} {
		for _, payload := range []map[string]any{nil, {}, testPayload(t)} {
			ok, err := c.Match(payload, testNow)
			require.NoError(t, err)
			require.True(t, ok)
		}
	}
}

func mustCompile(t *testing.T, raw map[string]any) *Criteria {
	t.Helper()
	c, err := CompileCriteria(raw)
	require.NoError(t, err)
	return c
}

func TestMatchError(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		raw  map[string]any
		key  string
	}{
		{"unparsable timestamp", map[string]any{"trigger.ts_bad": spec("timediff_lt", 5)}, "trigger.ts_bad"},
		{"boolean timestamp", map[string]any{"trigger.flag": spec("timediff_gt", 5)}, "trigger.flag"},
		{"inside search", map[string]any{"trigger.items": searchSpec("any", map[string]any{
			"item.name": spec("td_lt", 5),
		})}, "item.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, err := mustCompile(t, tt.raw).Match(testPayload(t), testNow)
			require.False(t, ok)
			var me *MatchError
			require.ErrorAs(t, err, &me)
			require.Equal(t, tt.key, me.Key)
			require.NotContains(t, err.Error(), "yesterday", "errors must not echo payload values")
		})
	}
}

func TestCompileCriteriaErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		raw  map[string]any
		want []Problem // Message is a substring
	}{
		{"unknown operator", map[string]any{"trigger.a": spec("like", "x")},
			[]Problem{{"trigger.a", `unknown operator "like"`}}},
		{"type missing", map[string]any{"trigger.a": map[string]any{"pattern": "x"}},
			[]Problem{{"trigger.a", `"type" must name an operator`}}},
		{"type not a string", map[string]any{"trigger.a": map[string]any{"type": 5, "pattern": "x"}},
			[]Problem{{"trigger.a", `"type" must name an operator`}}},
		{"entry not an object", map[string]any{"trigger.a": "equals"},
			[]Problem{{"trigger.a", "must be an object"}}},
		{"missing pattern", map[string]any{"trigger.a": spec("equals", noPattern{})},
			[]Problem{{"trigger.a", `missing "pattern"`}}},
		{"null pattern", map[string]any{"trigger.a": spec("contains", nil)},
			[]Problem{{"trigger.a", `missing "pattern"`}}},
		{"unknown field", map[string]any{"trigger.a": map[string]any{"type": "eq", "patern": "x", "pattern": 1}},
			[]Problem{{"trigger.a", `unknown field "patern"`}}},
		{"string pattern required", map[string]any{"trigger.a": spec("startswith", 5)},
			[]Problem{{"trigger.a", "pattern must be a string, got number"}}},
		{"iequals needs string", map[string]any{"trigger.a": spec("ieq", []any{})},
			[]Problem{{"trigger.a", "pattern must be a string, got list"}}},
		{"inside needs collection", map[string]any{"trigger.a": spec("in", 5)},
			[]Problem{{"trigger.a", "pattern must be a list, string or object"}}},
		{"lessthan needs number or string", map[string]any{"trigger.a": spec("lt", true)},
			[]Problem{{"trigger.a", "pattern must be a number or string, got boolean"}}},
		{"timediff needs seconds", map[string]any{"trigger.a": spec("timediff_lt", "soon")},
			[]Problem{{"trigger.a", "pattern must be a number of seconds"}}},
		{"exists takes no pattern", map[string]any{"trigger.a": spec("exists", "x")},
			[]Problem{{"trigger.a", "exists takes no pattern"}}},
		{"bad regex", map[string]any{"trigger.a": spec("regex", "(")},
			[]Problem{{"trigger.a", "invalid regular expression"}}},
		{"bad iregex", map[string]any{"trigger.a": spec("iregex", "a{2,1}")},
			[]Problem{{"trigger.a", "invalid regular expression"}}},
		{"matchregex not balanced by wrapping", map[string]any{"trigger.a": spec("matchregex", ")(")},
			[]Problem{{"trigger.a", "invalid regular expression"}}},
		{"bad wildcard", map[string]any{"trigger.a": spec("matchwildcard", "[z-a]")},
			[]Problem{{"trigger.a", "invalid wildcard pattern"}}},
		{"bad key prefix", map[string]any{"payload.a": spec("eq", 1)},
			[]Problem{{"payload.a", `key must start with "trigger." or "event.payload."`}}},
		{"bare key", map[string]any{"severity": spec("eq", 1)},
			[]Problem{{"severity", "key must start with"}}},
		{"prefix without dot", map[string]any{"triggers.a": spec("eq", 1)},
			[]Problem{{"triggers.a", "key must start with"}}},
		{"empty segment", map[string]any{"trigger..a": spec("eq", 1)},
			[]Problem{{"trigger..a", "empty path segment"}}},
		{"condition outside search", map[string]any{"trigger.a": map[string]any{"type": "eq", "pattern": 1, "condition": "any"}},
			[]Problem{{"trigger.a", `"condition" is only valid for search`}}},
		{"search without condition", map[string]any{"trigger.a": map[string]any{
			"type": "search", "pattern": map[string]any{"item.x": spec("exists", noPattern{})},
		}}, []Problem{{"trigger.a", `search "condition" must be "any", "all", "all2any" or "any2any"`}}},
		{"search bad condition", map[string]any{"trigger.a": searchSpec("count", map[string]any{"item.x": spec("exists", noPattern{})})},
			[]Problem{{"trigger.a", `search "condition" must be "any", "all", "all2any" or "any2any"`}}},
		{"search pattern not object", map[string]any{"trigger.a": map[string]any{"type": "search", "condition": "any", "pattern": "x"}},
			[]Problem{{"trigger.a", "search pattern must be a non-empty object"}}},
		{"search pattern empty", map[string]any{"trigger.a": searchSpec("all", map[string]any{})},
			[]Problem{{"trigger.a", "search pattern must be a non-empty object"}}},
		{"search nested key", map[string]any{"trigger.a": searchSpec("all", map[string]any{"trigger.x": spec("exists", noPattern{})})},
			[]Problem{{"trigger.a", `search pattern trigger.x: key must start with "item."`}}},
		{"search nested operator", map[string]any{"trigger.a": searchSpec("all", map[string]any{"item.x": spec("regex", "[")})},
			[]Problem{{"trigger.a", "search pattern item.x: invalid regular expression"}}},
		{"every entry listed, sorted", map[string]any{
			"trigger.b": spec("nope", 1),
			"trigger.a": spec("regex", "("),
			"trigger.c": spec("eq", "fine"),
			"bad":       spec("eq", noPattern{}),
		}, []Problem{
			{"bad", "key must start with"},
			{"bad", `missing "pattern"`},
			{"trigger.a", "invalid regular expression"},
			{"trigger.b", `unknown operator "nope"`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := CompileCriteria(tt.raw)
			require.Nil(t, c)
			var ce *CriteriaError
			require.ErrorAs(t, err, &ce)
			require.Len(t, ce.Problems, len(tt.want), "problems: %v", ce.Problems)
			for i, w := range tt.want {
				require.Equal(t, w.Key, ce.Problems[i].Key)
				require.Contains(t, ce.Problems[i].Message, w.Message)
				require.Contains(t, err.Error(), w.Key)
			}
		})
	}
}

func TestWildcardRegexp(t *testing.T) {
	t.Parallel()

	tests := []struct{ glob, want string }{
		{"*.log", `^(?s:.*\.log)$`},
		{"a?c", `^(?s:a.c)$`},
		{"[!abc]x", `^(?s:[^abc]x)$`},
		{"[]]", `^(?s:[\]])$`},
		{"[!]]", `^(?s:[^\]])$`},
		{"[^a]", `^(?s:[\^a])$`},
		{`[\]`, `^(?s:[\\])$`},
		{"[[:alpha:]]", `^(?s:[\[:alpha:]\])$`},
		{"a[b", `^(?s:a\[b)$`},
		{"[a-z]", `^(?s:[a-z])$`},
	}
	for _, tt := range tests {
		t.Run(tt.glob, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, wildcardRegexp(tt.glob))
		})
	}
}

func FuzzCompileCriteria(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"trigger.severity": {"type": "equals", "pattern": "high"}}`,
		`{"trigger.tags": {"type": "contains", "pattern": "prod"}, "trigger.count": {"type": "gt", "pattern": "3"}}`,
		`{"trigger.items": {"type": "search", "condition": "all", "pattern": {"item.name": {"type": "regex", "pattern": "^a"}}}}`,
		`{"event.payload.a.0": {"type": "matchwildcard", "pattern": "[!a-]*?"}}`,
		`{"trigger.ts": {"type": "td_lt", "pattern": 5}, "trigger.x": {"type": "nexists"}}`,
		`{"trigger.severity": {"type": "inside", "pattern": {"High": 1}}}`,
		`{"trigger": {"type": "iequals", "pattern": 1}}`,
	} {
		f.Add([]byte(seed))
	}
	fixed := testPayload(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var raw map[string]any
		if json.Unmarshal(data, &raw) != nil {
			return
		}
		c, err := CompileCriteria(raw)
		if err != nil {
			var ce *CriteriaError
			require.ErrorAs(t, err, &ce)
			require.NotEmpty(t, ce.Problems)
			return
		}
		for _, payload := range []map[string]any{fixed, raw, nil} {
			ok, err := c.Match(payload, testNow)
			if err != nil {
				var me *MatchError
				require.ErrorAs(t, err, &me)
				require.False(t, ok)
			}
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	c, err := CompileCriteria(map[string]any{
		"trigger.severity":    spec("iequals", "high"),
		"trigger.count":       spec("gt", 3),
		"trigger.tags":        spec("contains", "prod"),
		"trigger.host":        spec("matchwildcard", "web-*.example.com"),
		"trigger.path":        spec("regex", `\.log$`),
		"trigger.meta.team":   spec("inside", []any{"ops", "dev"}),
		"trigger.ts_recent":   spec("timediff_lt", 60),
		"trigger.flag":        spec("equals", true),
		"trigger.missing":     spec("nexists", noPattern{}),
		"event.payload.items": searchSpec("any", map[string]any{"item.status": spec("equals", "failed")}),
	})
	require.NoError(b, err)
	payload := testPayload(b)
	b.ReportAllocs()
	for b.Loop() {
		ok, err := c.Match(payload, testNow)
		if err != nil || !ok {
			b.Fatalf("want a match, got %v, %v", ok, err)
		}
	}
}

// TestStackStormCriteriaForms covers what StackStorm rules write beyond one operator per
// path: "#" suffixes for several criteria on one path, every search condition, a search
// over one object, and Jinja patterns rendered against the event.
func TestStackStormCriteriaForms(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	payload := map[string]any{
		"count":     45,
		"threshold": 40,
		"host":      "web-01",
		"num":       "01",
		"hosts":     []any{"web-01", "db-01"},
		"fields": []any{
			map[string]any{"name": "Status", "value": "Approved"},
			map[string]any{"name": "Owner", "value": "ops"},
		},
		"one": map[string]any{"name": "Status", "value": "Approved"},
	}
	item := func(name, value string) map[string]any {
		return map[string]any{
			"item.name":  map[string]any{"type": "equals", "pattern": name},
			"item.value": map[string]any{"type": "equals", "pattern": value},
		}
	}
	search := func(cond string, pat map[string]any) map[string]any {
		return map[string]any{"type": "search", "condition": cond, "pattern": pat}
	}
	cases := []struct {
		name     string
		criteria map[string]any
		want     bool
	}{
		{"hash suffix both hold", map[string]any{
			"trigger.count#1": map[string]any{"type": "greaterthan", "pattern": 40},
			"trigger.count#2": map[string]any{"type": "lessthan", "pattern": 50},
		}, true},
		{"hash suffix one fails", map[string]any{
			"trigger.count#1": map[string]any{"type": "greaterthan", "pattern": 40},
			"trigger.count#2": map[string]any{"type": "lessthan", "pattern": 44},
		}, false},
		{"search any", map[string]any{"trigger.fields": search("any", item("Status", "Approved"))}, true},
		{"search all fails", map[string]any{"trigger.fields": search("all", item("Status", "Approved"))}, false},
		{"search all2any", map[string]any{"trigger.fields": search("all2any", map[string]any{
			"item.value":   map[string]any{"type": "equals", "pattern": "Approved"},
			"item.value#1": map[string]any{"type": "equals", "pattern": "ops"},
		})}, true},
		{"search any2any", map[string]any{"trigger.fields": search("any2any", map[string]any{
			"item.name":  map[string]any{"type": "equals", "pattern": "nope"},
			"item.value": map[string]any{"type": "equals", "pattern": "ops"},
		})}, true},
		{"search any2any none", map[string]any{"trigger.fields": search("any2any", map[string]any{
			"item.name": map[string]any{"type": "equals", "pattern": "nope"},
		})}, false},
		{"search one object", map[string]any{"trigger.one": search("all", item("Status", "Approved"))}, true},
		{"jinja pattern typed", map[string]any{"trigger.count": map[string]any{"type": "greaterthan", "pattern": "{{ trigger.threshold }}"}}, true},
		{"jinja pattern in text", map[string]any{"trigger.host": map[string]any{"type": "equals", "pattern": "web-{{ trigger.num }}"}}, true},
		{"jinja pattern list", map[string]any{"trigger.host": map[string]any{"type": "inside", "pattern": "{{ trigger.hosts }}"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := CompileCriteria(tc.criteria)
			require.NoError(t, err)
			got, err := c.Match(payload, now)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	t.Run("st2kv in pattern", func(t *testing.T) {
		t.Parallel()
		c, err := CompileCriteria(map[string]any{"trigger.host": map[string]any{"type": "equals", "pattern": "{{ st2kv.system.watch.host }}"}})
		require.NoError(t, err)
		require.True(t, c.HasTemplates())
		ok, err := c.MatchContext(payload, Context{"trigger": payload, "st2kv": map[string]any{"system": map[string]any{"watch": map[string]any{"host": "web-01"}}}}, now)
		require.NoError(t, err)
		require.True(t, ok)
		_, err = c.Match(payload, now)
		var me *MatchError
		require.ErrorAs(t, err, &me, "without the keys the pattern cannot render")
	})
}
