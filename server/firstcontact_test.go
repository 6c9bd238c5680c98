package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
)

// finished is an execution as a newcomer reads it once it is over.
type finished struct {
	Status   string          `json:"status"`
	Stdout   string          `json:"stdout"`
	Stderr   string          `json:"stderr"`
	Error    string          `json:"error"`
	ExitCode *int            `json:"exitCode"`
	Result   json.RawMessage `json:"result"`
}

// runToEnd runs the action ref with params on s (with s.token, if any),
// follows it until it finishes and returns what was stored.
func runToEnd(t *testing.T, s *server, ref string, params map[string]any) finished {
	t.Helper()
	id := execute(t, s, ref, params)
	follow(t, s, id)
	var out struct{ Node finished }
	client(s, s.token).Must(t, `query($id: ID!) { node(id: $id) { ... on Execution {
		status stdout stderr error exitCode result } } }`, map[string]any{"id": id}, &out)
	return out.Node
}

// TestReadmeFirstActionLikeMakeRun runs the README's first action on a
// server started as `make run` starts it: relative data directory, auth on.
func TestReadmeFirstActionLikeMakeRun(t *testing.T) {
	t.Parallel()
	want, err := exec.Command("uname", "-a").Output()
	require.NoError(t, err)
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		got := runToEnd(t, s, "core.local", map[string]any{"cmd": "uname -a"})
		require.Equal(t, "SUCCEEDED", got.Status, "%+v", got)
		require.Equal(t, string(want), got.Stdout)
		require.Empty(t, got.Error)
	})
}

// TestCoreActions runs every built-in action of the core pack through the
// server, as a newcomer would after reading the README (except those that
// need SSH or SMTP servers: coreActionsTestedElsewhere); core.http talks to
// an HTTP server of the test's own.
func TestCoreActions(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string // "METHOD path header body" of each request core.http sent
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s %s %s %s", r.Method, r.URL.Path, r.Header.Get("X-Req"), r.Header.Get("Content-Type"), body))
		mu.Unlock()
		w.Header().Set("X-Answer", "42")
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"got": ` + string(body) + `}`))
		case "/text":
			_, _ = w.Write([]byte("plain words"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(web.Close)
	// Cleanups run after the parallel subtests: the requests as the test
	// server saw them, each test's once per backend that ran.
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if t.Failed() || t.Skipped() {
			return
		}
		var want []string
		for range len(seen) / 3 {
			want = append(want, `POST /json yes application/json {"n":1}`, "GET /text   ", "DELETE /nope   ")
		}
		require.Len(t, seen, len(want))
		require.ElementsMatch(t, want, seen)
	})
	want, err := exec.Command("uname", "-a").Output()
	require.NoError(t, err)
	// core.local_sudo: actions run confined (worker.isolation: auto), and
	// sudo would undo that, so it is refused before anything starts; the
	// sudo paths themselves are tested unconfined in internal/runner
	// (TestSudoAsRoot, TestSudoCommand).
	sudoStatus := "FAILED"

	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startLikeMakeRun(t, backend)
		tests := []struct {
			name       string
			ref        string
			params     map[string]any
			wantStatus string
			check      func(t *testing.T, got finished)
		}{
			{
				name: "echo", ref: "core.echo", params: map[string]any{"message": "hello, attune"}, wantStatus: "SUCCEEDED",
				check: func(t *testing.T, got finished) { require.Equal(t, "hello, attune\n", got.Stdout) },
			},
			{
				name: "noop", ref: "core.noop", wantStatus: "SUCCEEDED",
				check: func(t *testing.T, got finished) {
					require.Empty(t, got.Stdout)
					require.JSONEq(t, `{"failed": false, "succeeded": true, "return_code": 0}`, string(got.Result))
				},
			},
			{
				name: "local", ref: "core.local", params: map[string]any{"cmd": "uname -a"}, wantStatus: "SUCCEEDED",
				check: func(t *testing.T, got finished) { require.Equal(t, string(want), got.Stdout) },
			},
			{
				name: "local gives StackStorm's local runner result", ref: "core.local", params: map[string]any{"cmd": "echo out; echo err >&2; exit 2"},
				wantStatus: "FAILED",
				check: func(t *testing.T, got finished) {
					require.JSONEq(t, `{"stdout": "out", "stderr": "err", "return_code": 2, "succeeded": false, "failed": true}`, string(got.Result))
				},
			},
			{
				name: "local takes StackStorm's runner parameters", ref: "core.local",
				params:     map[string]any{"cmd": `echo "$GREETING"; pwd`, "env": map[string]any{"GREETING": "hi"}, "cwd": "/tmp", "timeout": 30, "kwarg_op": "-"},
				wantStatus: "SUCCEEDED",
				check:      func(t *testing.T, got finished) { require.Equal(t, "hi\n/tmp\n", got.Stdout) },
			},
			{
				name: "local_sudo is refused under isolation", ref: "core.local_sudo", params: map[string]any{"cmd": "id -u"}, wantStatus: sudoStatus,
				check: func(t *testing.T, got finished) {
					require.Contains(t, got.Error, "sudo is refused: actions run confined (worker.isolation)")
				},
			},
			{
				name: "echo prints the message as is", ref: "core.echo", params: map[string]any{"message": `-n $(echo pwned) "q" \c`},
				wantStatus: "SUCCEEDED",
				check: func(t *testing.T, got finished) {
					require.Equal(t, `-n $(echo pwned) "q" \c`+"\n", got.Stdout)
					require.JSONEq(t, `"-n $(echo pwned) \"q\" \\c"`, string(jsonField(t, got.Result, "stdout")))
				},
			},
			{
				name: "pause waits max_pause seconds", ref: "core.pause", params: map[string]any{"max_pause": 1}, wantStatus: "SUCCEEDED",
				check: func(t *testing.T, got finished) {
					require.Equal(t, "1\n", got.Stdout)
					require.JSONEq(t, `1`, string(jsonField(t, got.Result, "stdout")))
				},
			},
			{
				name: "local runs in the pack directory", ref: "core.local", params: map[string]any{"cmd": "pwd"},
				wantStatus: "SUCCEEDED",
				check: func(t *testing.T, got finished) {
					require.Equal(t, versionDir(t, filepath.Join(s.dir, "data"), "core")+"\n", got.Stdout)
				},
			},
			{
				name: "http POST of JSON", ref: "core.http", wantStatus: "SUCCEEDED",
				params: map[string]any{"url": web.URL + "/json", "method": "POST",
					"headers": map[string]any{"X-Req": "yes", "Content-Type": "application/json"}, "body": `{"n": 1}`},
				check: func(t *testing.T, got finished) {
					// StackStorm's http-request result.
					var r struct {
						StatusCode int               `json:"status_code"`
						Headers    map[string]string `json:"headers"`
						Body       json.RawMessage   `json:"body"`
						Parsed     bool              `json:"parsed"`
					}
					require.NoError(t, json.Unmarshal(got.Result, &r), string(got.Result))
					require.Equal(t, http.StatusCreated, r.StatusCode)
					require.Equal(t, "42", r.Headers["X-Answer"])
					require.Equal(t, "application/json", r.Headers["Content-Type"])
					require.True(t, r.Parsed)
					require.JSONEq(t, `{"got": {"n": 1}}`, string(r.Body))
				},
			},
			{
				name: "http GET of text", ref: "core.http", wantStatus: "SUCCEEDED",
				params: map[string]any{"url": web.URL + "/text"},
				check: func(t *testing.T, got finished) {
					require.JSONEq(t, `"plain words"`, string(jsonField(t, got.Result, "body")))
					require.JSONEq(t, `false`, string(jsonField(t, got.Result, "parsed")))
					require.JSONEq(t, `200`, string(jsonField(t, got.Result, "status_code")))
				},
			},
			{
				name: "http 404 fails with the response", ref: "core.http", wantStatus: "FAILED",
				params: map[string]any{"url": web.URL + "/nope", "method": "DELETE"},
				check: func(t *testing.T, got finished) {
					require.JSONEq(t, `404`, string(jsonField(t, got.Result, "status_code")))
					require.Contains(t, got.Error, "404 Not Found")
					require.Equal(t, 1, *got.ExitCode)
				},
			},
		}
		var refs []string
		for _, tt := range tests {
			refs = append(refs, tt.ref)
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				got := runToEnd(t, s, tt.ref, tt.params)
				require.Equal(t, tt.wantStatus, got.Status, "%+v", got)
				if !strings.Contains(got.Error, "failed during preparation") {
					require.NotNil(t, got.ExitCode, "%+v", got) // it ran
				}
				tt.check(t, got)
			})
		}
		// Every built-in action is covered here or in TestStackStormRunners.
		refs = append(refs, coreActionsTestedElsewhere...)
		var core struct {
			Packs struct {
				Edges []struct {
					Node struct {
						Actions struct {
							Edges []struct{ Node struct{ Ref string } }
						}
					}
				}
			}
		}
		client(s, s.token).Must(t, `{ packs(where: {ref: "core"}) { edges { node { actions { edges { node { ref } } } } } } }`, nil, &core)
		require.Len(t, core.Packs.Edges, 1)
		var actions []string
		for _, e := range core.Packs.Edges[0].Node.Actions.Edges {
			actions = append(actions, e.Node.Ref)
		}
		slices.Sort(refs)
		require.Equal(t, slices.Compact(refs), slices.Sorted(slices.Values(actions)))
	})
}

// jsonField returns the raw JSON of key in the object raw.
func jsonField(t *testing.T, raw json.RawMessage, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m), string(raw))
	require.Contains(t, m, key, string(raw))
	return m[key]
}

// TestFavicon: the browser's request for /favicon.ico, with or without the
// playground, gets an empty answer it may cache, not a 404.
func TestFavicon(t *testing.T) {
	t.Parallel()
	for _, playground := range []string{"true", "false"} {
		t.Run("playground="+playground, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, []string{"ATTUNE_GRAPHQL_PLAYGROUND=" + playground})
			res, body := do(t, http.MethodGet, s.url+"/favicon.ico", nil, "")
			require.Equal(t, http.StatusNoContent, res.StatusCode)
			require.Empty(t, body)
			require.Equal(t, "public, max-age=86400", res.Header.Get("Cache-Control"))
		})
	}
}

// TestSQLiteStartLogIsCalm: River's "entering poll only mode" notice, which
// read like a fault at every SQLite start, is debug only; the queue says
// in its own line how it works.
func TestSQLiteStartLogIsCalm(t *testing.T) {
	t.Parallel()
	const notice = "Driver does not support listener; entering poll only mode"
	tests := []struct {
		level      string
		wantNotice bool
	}{
		{"info", false},
		{"debug", true},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, []string{"ATTUNE_LOG_LEVEL=" + tt.level})
			out := s.out.String()
			require.Contains(t, out, `level=INFO msg="SQLite queue: jobs start as soon as the transaction that queued them commits`)
			if tt.wantNotice {
				require.Contains(t, out, `level=DEBUG msg="`+notice+`"`)
			} else {
				require.NotContains(t, out, notice)
			}
		})
	}
}
