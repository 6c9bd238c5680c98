package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
)

// Bounds of the hostile-input tests: generous for a loaded machine, far
// below what the documents cost unbounded (seconds to hours of CPU).
const (
	hostileCPU  = 500 * time.Millisecond
	hostileWall = 5 * time.Second
)

// clockTick is /proc's unit of CPU time (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuTime is the process's user plus system CPU time, from /proc/<pid>/stat.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	// The command (field 2) is in parentheses and may hold spaces: count
	// fields after its closing one. utime and stime are fields 14 and 15.
	rest := string(raw[strings.LastIndexByte(string(raw), ')')+2:])
	fields := strings.Fields(rest)
	utime, err := strconv.ParseInt(fields[11], 10, 64)
	require.NoError(t, err)
	stime, err := strconv.ParseInt(fields[12], 10, 64)
	require.NoError(t, err)
	return time.Duration(utime+stime) * clockTick
}

// settledCPU polls the server's CPU time until it stops growing (three
// reads 100 ms apart within one tick of each other) and returns it; it
// fails as soon as the time spent since from exceeds bound, so a server
// still busy after its client left fails instead of stalling the test.
func settledCPU(t *testing.T, pid int, from, bound time.Duration) time.Duration {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last, flat := cpuTime(t, pid), 0
	deadline := time.After(30 * time.Second)
	for flat < 3 {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("the server's CPU time never settled")
		}
		now := cpuTime(t, pid)
		require.LessOrEqual(t, now-from, bound, "CPU the server spent on one hostile request")
		if now-last <= clockTick {
			flat++
		} else {
			flat = 0
		}
		last = now
	}
	return last - from
}

// fanOut is a 1.6 KB document whose fragments each spread the next twice:
// 2^40 spreads of F40 once expanded.
func fanOut() string {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := range 40 {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	b.WriteString("fragment F40 on Query { packs { totalCount } }\n")
	return b.String()
}

// TestHostileDocumentsAreBounded sends documents that kept the server busy
// for seconds (validation before authentication, unbounded), with and
// without a token: each is answered with its own code, and the server
// spends less than hostileCPU on it, answering or after the client gave up.
func TestHostileDocumentsAreBounded(t *testing.T) {
	t.Parallel()
	s := startServer(t, authEnv(), "-roles", "api")
	pid := s.cmd.Process.Pid
	fields := func(n int, field string) string {
		return "{" + strings.Repeat(" "+field, n) + "}"
	}
	tests := []struct {
		name     string
		query    string
		withCode string // with a token
		anonCode string // without one
	}{
		{"fan-out of nested fragments", fanOut(), "TOO_MANY_FRAGMENT_SPREADS", "UNAUTHENTICATED"},
		{"20,000 duplicate fields", fields(20_000, "__typename"), "TOO_MANY_TOKENS", "UNAUTHENTICATED"},
		{"30,000 fields with @include", fields(30_000, "name @include(if:true)"),
			"TOO_MANY_TOKENS", "UNAUTHENTICATED"},
		{"150 copies of one field", fields(150, "packs { totalCount }"), "TOO_MANY_FIELDS", "UNAUTHENTICATED"},
		{"fields spread from fragments", "{" + strings.Repeat(" ...F", 30) + "} fragment F on Query {" +
			strings.Repeat(" viewer { name role packs }", 100) + "}", "TOO_MANY_FIELDS", "UNAUTHENTICATED"},
		{"600 spreads", "{" + strings.Repeat(" ...F", 600) + "} fragment F on Query { viewer { name } }",
			"TOO_MANY_FRAGMENT_SPREADS", "UNAUTHENTICATED"},
		{"600 directives", "{ viewer { name" + strings.Repeat(" @skip(if: false)", 600) + " } }",
			"TOO_MANY_DIRECTIVES", "UNAUTHENTICATED"},
		{"deep nesting", "{ executions { edges { node {" + strings.Repeat(" parent {", 20) + " id" +
			strings.Repeat(" }", 20) + " } } } }", "QUERY_TOO_DEEP", "UNAUTHENTICATED"},
		{"anonymous fan-out of __typename", strings.Replace(fanOut(), "packs { totalCount }", "__typename", 1),
			"TOO_MANY_FRAGMENT_SPREADS", "TOO_MANY_FRAGMENT_SPREADS"},
	}
	for _, tt := range tests {
		for _, token := range []string{testAdminToken, ""} {
			want := tt.withCode
			if token == "" {
				want = tt.anonCode
			}
			// Sequential: each measures the server's CPU alone.
			c := client(s, token)
			// An unbounded server never answers some of these: fail, not hang.
			c.HTTP = &http.Client{Timeout: hostileWall}
			before := cpuTime(t, pid)
			start := time.Now()
			r := c.Do(t, tt.query, nil)
			wall := time.Since(start)
			require.NotEmpty(t, r.Errors, "%s (token %v)", tt.name, token != "")
			require.Equal(t, want, r.Errors[0].Code(), "%s (token %v): %s", tt.name, token != "", r.Errors[0].Message)
			require.Less(t, wall, hostileWall, tt.name)
			settledCPU(t, pid, before, hostileCPU)
		}
	}

	t.Run("the client gives up", func(t *testing.T) {
		// The fan-out took 3.6 s to answer and 18 s more after its client
		// had gone: hang up early and watch the server.
		body, err := json.Marshal(map[string]string{"query": fanOut()})
		require.NoError(t, err)
		before := cpuTime(t, pid)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/graphql", strings.NewReader(string(body)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		if res, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		settledCPU(t, pid, before, hostileCPU)
	})

	t.Run("real clients fit", func(t *testing.T) {
		introspection, err := os.ReadFile("../graph/testdata/graphiql-introspection.graphql")
		require.NoError(t, err)
		for _, token := range []string{testAdminToken, ""} {
			var got struct {
				Schema struct{ Types []struct{ Name string } } `json:"__schema"`
			}
			client(s, token).Must(t, string(introspection), nil, &got)
			require.NotEmpty(t, got.Schema.Types)
			client(s, token).Must(t, `{ __typename }`, nil, nil)
		}
		e := client(s, "").Fail(t, `mutation { __typename }`, nil)
		require.Equal(t, "UNAUTHENTICATED", e.Code())
		e = client(s, "att_wrong").Fail(t, `{ packs { totalCount } }`, nil)
		require.Equal(t, "UNAUTHENTICATED", e.Code())
	})
}

// TestIntrospectionOffAnswersAnonymousOnlyTypename: with introspection off
// an unauthenticated request may ask __typename and nothing else.
func TestIntrospectionOffAnswersAnonymousOnlyTypename(t *testing.T) {
	t.Parallel()
	s := startServer(t, authEnv("ATTUNE_GRAPHQL_INTROSPECTION=false"), "-roles", "api")
	client(s, "").Must(t, `{ __typename }`, nil, nil)
	e := client(s, "").Fail(t, `{ __schema { types { name } } }`, nil)
	require.Equal(t, "UNAUTHENTICATED", e.Code())
}

// TestLargeFilterIsBadUserInput: a where filter past
// graphql.max_filter_predicates is BAD_USER_INPUT before any SQL is built,
// and one at the limit runs on both databases.
func TestLargeFilterIsBadUserInput(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, nil, "-roles", "api", "-database-url", dbtest.URL(t, backend))
		c := gqltest.New(s.url + "/graphql")
		or := func(n int) []any {
			preds := make([]any, n)
			for i := range preds {
				preds[i] = map[string]any{"actionRef": fmt.Sprintf("p.a%d", i)}
			}
			return preds
		}
		const q = `query($or: [ExecutionWhereInput!]){ executions(where: {or: $or}){ totalCount } }`
		var got struct{ Executions struct{ TotalCount int } }
		c.Must(t, q, map[string]any{"or": or(500)}, &got)
		require.Zero(t, got.Executions.TotalCount)

		e := c.Fail(t, q, map[string]any{"or": or(20_000)})
		require.Equal(t, "BAD_USER_INPUT", e.Code(), e.Message)
		require.Contains(t, e.Message, "20000 predicates")
		require.Contains(t, e.Message, "500")
		e = c.Fail(t, `query($in: [String!]){ packs(where: {refIn: $in}){ totalCount } }`,
			map[string]any{"in": strings.Split(strings.Repeat("x,", 600), ",")})
		require.Equal(t, "BAD_USER_INPUT", e.Code(), e.Message)
	})
}

// chunked is a request body without a Content-Length.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

// TestBodyErrorsNeverEchoTheBody: a chunked body over
// graphql.max_body_bytes is 413 PAYLOAD_TOO_LARGE, and no error quotes
// the body it refuses.
func TestBodyErrorsNeverEchoTheBody(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "-roles", "api")
	const marker = "SECRET-BODY-MARKER"
	send := func(t *testing.T, body io.Reader) (*http.Response, string) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+"/graphql", body)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, string(b)
	}
	t.Run("chunked over the limit", func(t *testing.T) {
		t.Parallel()
		body := `{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat(marker, (2<<20)/len(marker)) + `"}}`
		res, got := send(t, chunked{strings.NewReader(body)})
		require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode, got)
		require.NotContains(t, got, marker)
		var r gqltest.Response
		require.NoError(t, json.Unmarshal([]byte(got), &r))
		require.Equal(t, "PAYLOAD_TOO_LARGE", r.Errors[0].Code())
	})
	for name, body := range map[string]string{
		"cut JSON":        `{"query":"` + marker,
		"not JSON":        marker,
		"wrong JSON type": `{"query":{"` + marker + `":1}}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, got := send(t, chunked{strings.NewReader(body)})
			require.Equal(t, http.StatusBadRequest, res.StatusCode, got)
			require.NotContains(t, got, marker)
			var r gqltest.Response
			require.NoError(t, json.Unmarshal([]byte(got), &r))
			require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
		})
	}
}

// TestStoredTextIsBounded: mutations refuse text over its limit with
// BAD_USER_INPUT naming the field and the limit, and store nothing.
func TestStoredTextIsBounded(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, []string{"ATTUNE_GRAPHQL_MAX_BODY_BYTES=8388608"},
			"-roles", "api", "-database-url", dbtest.URL(t, backend))
		c := gqltest.New(s.url + "/graphql")
		const create = `mutation($in: CreateRuleInput!){ createRule(input: $in){ rule{ ref } } }`
		rule := func(change map[string]any) map[string]any {
			in := map[string]any{"ref": "ops.big", "trigger": "core.webhook", "action": "core.echo"}
			for k, v := range change {
				in[k] = v
			}
			return map[string]any{"in": in}
		}
		tests := []struct {
			name   string
			vars   map[string]any
			field  string
			limit  string
			query  string
			ofRule bool
		}{
			{"description", rule(map[string]any{"description": strings.Repeat("d", 70_000)}),
				"createRule.input.description", "65536", create, true},
			{"label", rule(map[string]any{"label": strings.Repeat("l", 300)}),
				"createRule.input.label", "255", create, true},
			{"ref", rule(map[string]any{"ref": "ops." + strings.Repeat("r", 300)}),
				"createRule.input.ref", "255", create, false},
			{"criteria", rule(map[string]any{"criteria": map[string]any{
				"trigger.x": map[string]any{"type": "equals", "pattern": strings.Repeat("p", 2<<20)}}}),
				"createRule.input.criteria", "1048576", create, true},
			{"key value", map[string]any{"v": strings.Repeat("v", 2<<20)},
				"setKey.input.value", "1048576", `mutation($v: JSON!){ setKey(input: {name: "big", value: $v}){ name } }`, false},
		}
		for _, tt := range tests {
			e := c.Fail(t, tt.query, tt.vars)
			require.Equal(t, "BAD_USER_INPUT", e.Code(), "%s: %s", tt.name, e.Message)
			require.Contains(t, e.Message, tt.field, tt.name)
			require.Contains(t, e.Message, tt.limit, tt.name)
			require.Equal(t, tt.field, e.Extensions["field"])
		}
		r := c.Do(t, `{ rule(ref: "ops.big"){ ref } }`, nil)
		require.Equal(t, "NOT_FOUND", r.Errors[0].Code())
		r = c.Do(t, `{ key(name: "big"){ name } }`, nil)
		require.Equal(t, "NOT_FOUND", r.Errors[0].Code())
		// At the limits, the same rule is stored.
		c.Must(t, create, rule(map[string]any{"description": strings.Repeat("d", 65536),
			"label": strings.Repeat("l", 255)}), nil)
	})
}

// TestLargePackYAMLIsRefusedUnread: a pack.yaml over
// packs.max_manifest_bytes (well under packs.max_bytes) is BAD_USER_INPUT
// with a problem naming the file and the limit, without the server
// reading it into memory; so is a component file, and a description over
// its limit. Nothing is installed.
func TestLargePackYAMLIsRefusedUnread(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startServer(t, nil, "-roles", "api", "-database-url", dbtest.URL(t, backend))
		c := gqltest.New(s.url + "/graphql")
		pack := func(t *testing.T, packYAML, actionYAML string) string {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "pack.yaml"), []byte(packYAML), 0o644))
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "actions"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "actions", "a.yaml"), []byte(actionYAML), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "actions", "a.sh"), []byte("#!/bin/sh\n"), 0o755))
			return dir
		}
		const okPack = "ref: big\nversion: \"1.0.0\"\n"
		const okAction = "name: a\nentry_point: a.sh\n"
		// 50 MB of YAML: one long list, the shape that took ~500 MB of RSS.
		huge := okPack + "tags:\n" + strings.Repeat("  - aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 50<<20/33)
		tests := []struct {
			name       string
			dir        string
			file, want string
		}{
			{"pack.yaml", pack(t, huge, okAction), "pack.yaml", "the limit of a pack's YAML file is 1048576 bytes"},
			{"action", pack(t, okPack, okAction+"description: |\n"+strings.Repeat("  x\n", 2<<20/4)),
				"actions/a.yaml", "1048576"},
			{"description", pack(t, okPack, okAction+"description: "+strings.Repeat("x", 70_000)+"\n"),
				"actions/a.yaml", "the limit is 65536"},
		}
		for _, tt := range tests {
			rssBefore := peakRSS(t, s.cmd.Process.Pid)
			e := c.Fail(t, `mutation($s: String!){ installPack(input: {source: $s}){ pack{ ref } } }`,
				map[string]any{"s": tt.dir})
			require.Equal(t, "BAD_USER_INPUT", e.Code(), "%s: %s", tt.name, e.Message)
			problems, _ := e.Extensions["problems"].([]any)
			require.NotEmpty(t, problems, "%s: %v", tt.name, e.Extensions)
			raw, err := json.Marshal(problems)
			require.NoError(t, err)
			require.Contains(t, string(raw), tt.file, tt.name)
			require.Contains(t, string(raw), tt.want, tt.name)
			require.Less(t, peakRSS(t, s.cmd.Process.Pid)-rssBefore, int64(64<<20),
				"%s: the server's peak memory grew", tt.name)
		}
		var got struct{ Packs struct{ TotalCount int } }
		c.Must(t, `{ packs(where: {ref: "big"}){ totalCount } }`, nil, &got)
		require.Zero(t, got.Packs.TotalCount)
	})
}

// peakRSS is the process's peak resident memory (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/pid/status")
	return 0
}
