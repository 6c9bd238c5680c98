package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/param"
)

func TestParseParamsTypesBySchema(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "body.txt")
	require.NoError(t, os.WriteFile(file, []byte("line one\nline two\n"), 0o600))
	num := filepath.Join(dir, "n.txt")
	require.NoError(t, os.WriteFile(num, []byte("42\n"), 0o600))
	schema := param.Schema{
		"count":   {Type: "integer"},
		"ratio":   {Type: "number"},
		"on":      {Type: "boolean"},
		"hosts":   {Type: "array", Items: &param.Spec{Type: "integer"}},
		"tags":    {Type: "array"},
		"headers": {Type: "object"},
		"text":    {Type: "string"},
	}
	got, err := parseParams(schema, []string{
		"count=3", "ratio=0.5", "on=yes", "hosts=1, 2", `tags=["a","b"]`, `headers={"X":"y"}`,
		"text=@" + file, "extra=free text", `raw:={"n":[1,true]}`, "count2=x=y",
	})
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"count": int64(3), "ratio": 0.5, "on": true, "hosts": []any{int64(1), int64(2)},
		"tags": []any{"a", "b"}, "headers": map[string]any{"X": "y"},
		"text": "line one\nline two\n", "extra": "free text",
		"raw": map[string]any{"n": []any{float64(1), true}}, "count2": "x=y",
	}, got)
	got, err = parseParams(schema, []string{"count=@" + num})
	require.NoError(t, err)
	require.Equal(t, int64(42), got["count"])

	for _, bad := range []string{"count=three", "ratio=x", "on=maybe", "hosts=1,b", "headers=[1]", "novalue", "=x", "raw:={", "text=@/nonexistent"} {
		_, err := parseParams(schema, []string{bad})
		require.Error(t, err, bad)
		code, _ := classify(err)
		require.Equal(t, ExitUsage, code, bad)
	}
}

func TestTableFitsTheWidth(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	a := &app{stdout: &out, env: map[string]string{"COLUMNS": "40"}}
	require.NoError(t, a.table([]string{"ref", "description"}, [][]string{
		{"core.local", strings.Repeat("long words ", 10)},
		{"core.echo", "short"},
	}))
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	require.Len(t, lines, 3)
	require.Equal(t, "REF         DESCRIPTION", lines[0])
	for _, l := range lines {
		require.LessOrEqual(t, len([]rune(l)), 40, l)
	}
	require.True(t, strings.HasSuffix(lines[1], "…"), lines[1])
	require.Equal(t, "core.echo   short", lines[2])
	require.NotContains(t, out.String(), "\x1b[", "no colour off a terminal")
}

func TestOutputFormatsAndFields(t *testing.T) {
	t.Parallel()
	items := []map[string]any{{"id": "1", "status": "SUCCEEDED", "parameters": map[string]any{"cmd": "date"}, "count": 2}}
	for _, tt := range []struct{ output, attrs, want string }{
		{"table", "id,parameters.cmd", "ID  PARAMETERS.CMD\n1   date\n"},
		{"json", "id,parameters.cmd", "[\n  {\n    \"id\": \"1\",\n    \"parameters.cmd\": \"date\"\n  }\n]\n"},
		{"yaml", "id,count", "- count: 2\n  id: \"1\"\n"},
	} {
		var out bytes.Buffer
		a := &app{stdout: &out, env: map[string]string{}, output: tt.output, attrs: tt.attrs}
		require.NoError(t, a.printList(items, []string{"id"}))
		require.Equal(t, tt.want, out.String(), tt.output)
	}
}

func TestResolveOrder(t *testing.T) {
	t.Parallel()
	cfgHome := t.TempDir()
	a := &app{env: map[string]string{"XDG_CONFIG_HOME": cfgHome, "ATTUNE_DATA_DIR": t.TempDir()}}
	tg, err := a.resolve()
	require.NoError(t, err)
	require.Equal(t, DefaultURL, tg.url)
	require.Empty(t, tg.token, "no admin token in the data directory")

	require.NoError(t, os.WriteFile(filepath.Join(a.env["ATTUNE_DATA_DIR"], "admin-token"), []byte("att_local\n"), 0o600))
	tg, err = a.resolve()
	require.NoError(t, err)
	require.Equal(t, "att_local", tg.token)

	path, err := a.writeConfig(fileConfig{URL: "https://attune.example", Token: "att_saved"})
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	tg, err = a.resolve()
	require.NoError(t, err)
	require.Equal(t, target{url: "https://attune.example", token: "att_saved", urlFrom: "config", tokenFrom: "config"}, tg)

	// The environment wins over the file, and a URL of its own does not
	// take the file's token to another server.
	a.env["ATTUNE_URL"] = "http://other:8080/graphql"
	tg, err = a.resolve()
	require.NoError(t, err)
	require.Equal(t, "http://other:8080", tg.url)
	require.NotEqual(t, "att_saved", tg.token)
	a.env["ATTUNE_TOKEN"] = "att_env"
	tg, err = a.resolve()
	require.NoError(t, err)
	require.Equal(t, "att_env", tg.token)
	a.url, a.token = "http://flag:1", "att_flag"
	tg, err = a.resolve()
	require.NoError(t, err)
	require.Equal(t, target{url: "http://flag:1", token: "att_flag", urlFrom: "--url", tokenFrom: "--token"}, tg)
}

func TestExitCodesByErrorCode(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]int{
		"BAD_USER_INPUT": ExitUsage, "UNAUTHENTICATED": ExitAuth, "FORBIDDEN": ExitAuth,
		"NOT_FOUND": ExitNotFound, "CONFLICT": ExitConflict, "INTERNAL_SERVER_ERROR": ExitServer,
	} {
		require.Equal(t, want, codeExit(code), code)
	}
	require.Len(t, map[int]bool{ExitOK: true, ExitFailed: true, ExitUsage: true, ExitAuth: true, ExitNotFound: true, ExitConflict: true, ExitServer: true}, 7)
}

// TestParseProblem: the problems of a server that lists them only in the
// install's error message still get their file, line and task columns.
func TestParseProblem(t *testing.T) {
	t.Parallel()
	require.Equal(t, installProblem{File: "actions/workflows/f.yaml", Line: 6, Task: "two", Message: `tasks.two.action: the action "x.y" is not registered`},
		parseProblem(`actions/workflows/f.yaml:6: task two: tasks.two.action: the action "x.y" is not registered`))
	require.Equal(t, installProblem{File: "actions/x.yaml", Line: 2, Message: "runner_type: unknown"},
		parseProblem("actions/x.yaml:2: runner_type: unknown"))
	require.Equal(t, installProblem{File: "pack.yaml", Message: "ref: missing"}, parseProblem("pack.yaml: ref: missing"))
	require.Equal(t, installProblem{Message: "odd"}, parseProblem("odd"))
}
