package jinja

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPythonStringEscapes: string literals decode as Jinja (Python's unicode-escape) decodes
// them: an unknown escape stays as written, known ones decode, text outside expressions,
// comments and raw blocks is left alone.
func TestPythonStringEscapes(t *testing.T) {
	e := New(Options{})
	for _, tc := range []struct{ src, want string }{
		{`{{ "a\w" }}`, `a\w`},
		{`{{ 'a\d+\.\s' }}`, `a\d+\.\s`},
		{`{{ "a\\w" }}`, `a\w`},
		{`{{ "tab\tnl\n" }}`, "tab\tnl\n"},
		{`{{ "q\"q" }}`, `q"q`},
		{`{{ "\x41\u00e9" }}`, "Aé"},
		{`text \w {{ "x" }} \d`, `text \w x \d`},
		{`{# "\w" #}{{ "\w" }}`, `\w`},
		{`{% raw %}{{ "\w" }}{% endraw %}{{ "\w" }}`, `{{ "\w" }}\w`},
		{`{% set r = "(\w+) (\w+)" %}{{ "hello world" | regex_replace(r, "\\2 \\1") }}`, `world hello`},
		{`{{ "668 Infinite Dr" | regex_match("([0-9]{3} \w+ (?:Ave|St|Dr))") }}`, `True`},
	} {
		got, err := e.Render(tc.src, map[string]any{})
		require.NoError(t, err, tc.src)
		require.Equal(t, tc.want, got, tc.src)
	}
}
