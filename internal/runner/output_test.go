package runner

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseResult(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stdout string
		want   string // JSON of the parsed value; empty means nil
	}{
		{name: "whole stdout, pretty printed", stdout: "{\n  \"a\": [1, 2]\n}\n", want: `{"a": [1, 2]}`},
		{name: "last line after logs", stdout: "starting\nstill going\n{\"ok\": true}\n\n", want: `{"ok": true}`},
		{name: "large integer keeps precision", stdout: "12345678901234567890", want: `12345678901234567890`},
		{name: "text", stdout: "hello world\n"},
		{name: "empty", stdout: ""},
		{name: "blank", stdout: " \n\n"},
		{name: "two values on the last line", stdout: "log\n{} {}\n"},
		{name: "json then text", stdout: "{\"a\": 1}\ndone\n"},
		{name: "truncated json", stdout: "{\"a\": "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := parseResult(tt.stdout)
			if tt.want == "" {
				require.Nil(t, got)
				return
			}
			b, err := json.Marshal(got)
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(b))
		})
	}
}

func TestCaptureSplitsLongLines(t *testing.T) {
	t.Parallel()
	var got []string
	c := &capture{stream: "stdout", limit: 10, onLine: func(_, line string) { got = append(got, line) }}
	long := strings.Repeat("y", maxLineBytes+5)
	c.consume(strings.NewReader("ab\r\n" + long + "\ntail"))
	require.Equal(t, []string{"ab", long[:maxLineBytes], "yyyyy", "tail"}, got)
	require.Equal(t, "ab\r\nyyyyyy", string(c.buf))
	require.Equal(t, int64(len("ab\r\n")+len(long)+len("\n")+len("tail")-10), c.dropped)
}
