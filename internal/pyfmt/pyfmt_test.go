// Code written from Python 3.11's own outputs: repr(), str() and
// json.dumps() of each case.

package pyfmt

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFloat(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0.0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1.0, "1.0"},
		{2.5, "2.5"},
		{0.1, "0.1"},
		{0.0001, "0.0001"},
		{1e-05, "1e-05"},
		{0.00012345, "0.00012345"},
		{1000000000000000.0, "1000000000000000.0"},
		{1e+16, "1e+16"},
		{1.5e+16, "1.5e+16"},
		{123456789012345.6, "123456789012345.6"},
		{1e+21, "1e+21"},
		{1e+100, "1e+100"},
		{1.7976931348623157e+308, "1.7976931348623157e+308"},
		{5e-324, "5e-324"},
		{-3.25, "-3.25"},
		{0.3333333333333333, "0.3333333333333333"},
		{9007199254740992.0, "9007199254740992.0"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
	} {
		if got := Float(c.in); got != c.want {
			t.Errorf("Float(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestQuoteAndJSONString(t *testing.T) {
	for _, c := range []struct{ in, repr, json string }{
		{"", "''", "\"\""},
		{"a", "'a'", "\"a\""},
		{"it's", "\"it's\"", "\"it's\""},
		{"say \"hi\"", "'say \"hi\"'", "\"say \\\"hi\\\"\""},
		{"both ' and \"", "'both \\' and \"'", "\"both ' and \\\"\""},
		{"back\\slash", "'back\\\\slash'", "\"back\\\\slash\""},
		{"tab\U00000009nl\U0000000aret\U0000000d", "'tab\\tnl\\nret\\r'", "\"tab\\tnl\\nret\\r\""},
		{"\U00000000\U0000001f\U0000007f\U00000008\U0000000c", "'\\x00\\x1f\\x7f\\x08\\x0c'", "\"\\u0000\\u001f\\u007f\\b\\f\""},
		{"\U000000e9", "'\U000000e9'", "\"\\u00e9\""},
		{"\U000000a0", "'\\xa0'", "\"\\u00a0\""},
		{"\U000000ad", "'\\xad'", "\"\\u00ad\""},
		{"\U000065e5\U0000672c", "'\U000065e5\U0000672c'", "\"\\u65e5\\u672c\""},
		{"\U00002028", "'\\u2028'", "\"\\u2028\""},
		{"\U0001f600", "'\U0001f600'", "\"\\ud83d\\ude00\""},
		{"\U000e0001", "'\\U000e0001'", "\"\\udb40\\udc01\""},
		{"\U0000d7ff", "'\\ud7ff'", "\"\\ud7ff\""},
		{"\U0000fffd", "'\U0000fffd'", "\"\\ufffd\""},
		{"\U000000ff", "'\U000000ff'", "\"\\u00ff\""},
		{"\U00000100", "'\U00000100'", "\"\\u0100\""},
	} {
		if got := Quote(c.in); got != c.repr {
			t.Errorf("Quote(%q) = %s, want %s", c.in, got, c.repr)
		}
		var b strings.Builder
		JSONString(&b, c.in)
		if got := b.String(); got != c.json {
			t.Errorf("JSONString(%q) = %s, want %s", c.in, got, c.json)
		}
	}
	// Bytes that are not UTF-8 (Python would not have decoded them).
	if got := Quote("a\xffb"); got != `'a\xffb'` {
		t.Errorf("Quote of a bad byte = %s", got)
	}
	var b strings.Builder
	JSONString(&b, "a\xffb")
	if got := b.String(); got != `"a\ufffdb"` {
		t.Errorf("JSONString of a bad byte = %s", got)
	}
}

func TestStrRepr(t *testing.T) {
	for _, c := range []struct {
		in        any
		str, repr string
	}{
		{nil, "None", "None"},
		{true, "True", "True"},
		{false, "False", "False"},
		{42, "42", "42"},
		{int64(-7), "-7", "-7"},
		{float64(1.5), "1.5", "1.5"},
		{float64(2.0), "2.0", "2.0"},
		{"s", "s", "'s'"},
		{"it's", "it's", "\"it's\""},
		{[]any{}, "[]", "[]"},
		{map[string]any{}, "{}", "{}"},
		{[]any{1, "a", nil, true, float64(2.5)}, "[1, 'a', None, True, 2.5]", "[1, 'a', None, True, 2.5]"},
		{map[string]any{"b": []any{1, map[string]any{"c": "d"}}, "a": nil, "\U000000e9": "\U000065e5\U0000672c"}, "{'a': None, 'b': [1, {'c': 'd'}], '\U000000e9': '\U000065e5\U0000672c'}", "{'a': None, 'b': [1, {'c': 'd'}], '\U000000e9': '\U000065e5\U0000672c'}"},
		{[]any{[]any{[]any{}}, map[string]any{"k": map[string]any{}}}, "[[[]], {'k': {}}]", "[[[]], {'k': {}}]"},
	} {
		if got := Str(c.in); got != c.str {
			t.Errorf("Str(%#v) = %s, want %s", c.in, got, c.str)
		}
		var b strings.Builder
		Repr(&b, c.in, nil)
		if got := b.String(); got != c.repr {
			t.Errorf("Repr(%#v) = %s, want %s", c.in, got, c.repr)
		}
	}
}

func TestReprLeaf(t *testing.T) {
	type point struct{ x, y int }
	leaf := func(b *strings.Builder, v any) bool {
		if p, ok := v.(point); ok {
			b.WriteString("(" + strconv.Itoa(p.x) + ", " + strconv.Itoa(p.y) + ")")
			return true
		}
		return false
	}
	var b strings.Builder
	Repr(&b, []any{point{1, 2}, map[string]any{"p": point{3, 4}}}, leaf)
	if got, want := b.String(), "[(1, 2), {'p': (3, 4)}]"; got != want {
		t.Errorf("Repr with a leaf = %s, want %s", got, want)
	}
}

func TestDumps(t *testing.T) {
	for _, c := range []struct {
		in              any
		indent          int
		itemSep, keySep string
		want            string
	}{
		{nil, -1, ", ", ": ", "null"},
		{true, -1, ", ", ": ", "true"},
		{false, -1, ", ", ": ", "false"},
		{42, -1, ", ", ": ", "42"},
		{int64(-7), -1, ", ", ": ", "-7"},
		{float64(1.5), -1, ", ", ": ", "1.5"},
		{float64(2.0), -1, ", ", ": ", "2.0"},
		{"s", -1, ", ", ": ", "\"s\""},
		{"it's", -1, ", ", ": ", "\"it's\""},
		{[]any{}, -1, ", ", ": ", "[]"},
		{map[string]any{}, -1, ", ", ": ", "{}"},
		{[]any{1, "a", nil, true, float64(2.5)}, -1, ", ", ": ", "[1, \"a\", null, true, 2.5]"},
		{map[string]any{"b": []any{1, map[string]any{"c": "d"}}, "a": nil, "\U000000e9": "\U000065e5\U0000672c"}, -1, ", ", ": ", "{\"a\": null, \"b\": [1, {\"c\": \"d\"}], \"\\u00e9\": \"\\u65e5\\u672c\"}"},
		{[]any{[]any{[]any{}}, map[string]any{"k": map[string]any{}}}, -1, ", ", ": ", "[[[]], {\"k\": {}}]"},
		{map[string]any{"b": []any{1, map[string]any{"c": "d"}}, "a": nil, "\U000000e9": "\U000065e5\U0000672c"}, 2, ",", ": ", "{\U0000000a  \"a\": null,\U0000000a  \"b\": [\U0000000a    1,\U0000000a    {\U0000000a      \"c\": \"d\"\U0000000a    }\U0000000a  ],\U0000000a  \"\\u00e9\": \"\\u65e5\\u672c\"\U0000000a}"},
		{[]any{1, "a", nil, true, float64(2.5)}, 4, ",", ": ", "[\U0000000a    1,\U0000000a    \"a\",\U0000000a    null,\U0000000a    true,\U0000000a    2.5\U0000000a]"},
		{[]any{[]any{[]any{}}, map[string]any{"k": map[string]any{}}}, 2, ",", ": ", "[\U0000000a  [\U0000000a    []\U0000000a  ],\U0000000a  {\U0000000a    \"k\": {}\U0000000a  }\U0000000a]"},
		{map[string]any{"b": []any{1, map[string]any{"c": "d"}}, "a": nil, "\U000000e9": "\U000065e5\U0000672c"}, -1, ",", ":", "{\"a\":null,\"b\":[1,{\"c\":\"d\"}],\"\\u00e9\":\"\\u65e5\\u672c\"}"},
		{[]any{1, "a", nil, true, float64(2.5)}, 0, ",", ": ", "[\U0000000a1,\U0000000a\"a\",\U0000000anull,\U0000000atrue,\U0000000a2.5\U0000000a]"},
		{[]any{1, "a", nil, true, float64(2.5)}, 2, ", ", ": ", "[\U0000000a  1, \U0000000a  \"a\", \U0000000a  null, \U0000000a  true, \U0000000a  2.5\U0000000a]"},
		{[]any{math.NaN(), math.Inf(1), math.Inf(-1)}, -1, ", ", ": ", "[NaN, Infinity, -Infinity]"},
	} {
		got, err := Dumps(c.in, JSONOptions{Indent: c.indent, ItemSep: c.itemSep, KeySep: c.keySep})
		if err != nil || got != c.want {
			t.Errorf("Dumps(%#v, %d, %q, %q) = %s, %v; want %s", c.in, c.indent, c.itemSep, c.keySep, got, err, c.want)
		}
	}
}

func TestDumpsOtherAndLimit(t *testing.T) {
	type text string
	other := func(v any) (any, error) {
		if s, ok := v.(text); ok {
			return string(s), nil
		}
		return v, nil // still not JSON: refused
	}
	got, err := Dumps(map[string]any{"t": text("x")}, JSONOptions{Indent: -1, ItemSep: ", ", KeySep: ": ", Other: other})
	if err != nil || got != `{"t": "x"}` {
		t.Errorf("Dumps with Other = %s, %v", got, err)
	}
	if _, err := Dumps([]any{struct{}{}}, JSONOptions{Indent: -1, Other: other}); err == nil {
		t.Error("Dumps took a value Other could not turn into JSON")
	}
	if _, err := Dumps([]any{struct{}{}}, JSONOptions{Indent: -1}); err == nil {
		t.Error("Dumps took a value of an unknown type without Other")
	}
	long := []any{strings.Repeat("a", 50), strings.Repeat("b", 50)}
	if _, err := Dumps(long, JSONOptions{Indent: -1, ItemSep: ",", Limit: 40}); err != ErrTooLong {
		t.Errorf("Dumps over the limit: %v, want ErrTooLong", err)
	}
	if _, err := Dumps(long, JSONOptions{Indent: -1, ItemSep: ",", Limit: 200}); err != nil {
		t.Errorf("Dumps under the limit: %v", err)
	}
}

// FuzzStrings: JSONString reads back as the same text; Quote's output is
// quoted and holds no raw control character.
func FuzzStrings(f *testing.F) {
	for _, s := range []string{"", "it's", "say \"hi\"", "\x00\x7f", "\u00e9\u65e5", "\U0001f600", "a\xffb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		JSONString(&b, s)
		var back string
		if err := json.Unmarshal([]byte(b.String()), &back); err != nil {
			t.Fatalf("JSONString(%q) = %s: not JSON: %v", s, b.String(), err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); utf8.ValidString(s) && back != want {
			t.Fatalf("JSONString(%q) reads back as %q", s, back)
		}
		for _, r := range b.String() {
			if r < 0x20 || r > 0x7e {
				t.Fatalf("JSONString(%q) = %s: not ASCII", s, b.String())
			}
		}
		q := Quote(s)
		if len(q) < 2 || q[0] != q[len(q)-1] || (q[0] != '\'' && q[0] != '"') {
			t.Fatalf("Quote(%q) = %s: not quoted", s, q)
		}
		for _, r := range q {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("Quote(%q) = %s: a raw control character", s, q)
			}
		}
	})
}

// FuzzFloat: Float reads back as the same float.
func FuzzFloat(f *testing.F) {
	for _, x := range []float64{0, 1, 0.1, 1e-5, 1e16, 1.5e16, 5e-324} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		s := Float(x)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || back != x || !strings.ContainsAny(s, ".en") {
			t.Fatalf("Float(%v) = %s reads back as %v, %v", x, s, back, err)
		}
	})
}
