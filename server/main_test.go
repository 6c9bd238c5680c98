package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/auth"
	"github.com/attune-io/attune/internal/dbtest"
	"github.com/attune-io/attune/internal/gqltest"
	"github.com/attune-io/attune/internal/playground"
	"github.com/attune-io/attune/internal/store"
)

// Deadlines of the process harness: generous for a loaded CI machine, short
// enough that a hung process fails the run instead of stalling it.
const (
	startTimeout = 20 * time.Second
	stopTimeout  = 10 * time.Second
)

// attuneBin is the server binary under test, built once by TestMain and
// never written again.
var attuneBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "attune-server-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating build dir:", err)
		os.Exit(1)
	}
	attuneBin = filepath.Join(dir, "attune")
	// go test puts its own go first in PATH and runs tests in the package
	// directory, so this builds ./server with the toolchain under test.
	// attune-sandbox beside it, as make build and the image install them.
	for _, b := range [][]string{
		{"build", "-o", attuneBin, "."},
		{"build", "-o", filepath.Join(dir, "attune-sandbox"), "../internal/sandbox/cmd/attune-sandbox"},
	} {
		if out, err := exec.Command("go", b...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building attune: %v\n%s", err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// listening matches the complete log line that announces the bound address.
var listening = regexp.MustCompile(`msg="attune listening" addr=(\S+)[^\n]*\n`)

// output collects everything a process prints and reports its listen
// address, once, as soon as the log line is complete.
type output struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	addr chan string // buffered; receives the address once
	sent bool
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if !o.sent {
		if m := listening.FindSubmatch(o.buf.Bytes()); m != nil {
			o.sent = true
			o.addr <- string(m[1])
		}
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// proc is one attune process started by a test.
type proc struct {
	cmd  *exec.Cmd
	out  *output
	done chan struct{} // closed when the process has exited and err is set
	err  error
}

// systemPython is the interpreter the test servers build venvs with.
const systemPython = "/usr/bin/python3"

// childEnv is the test's environment without any ATTUNE_* variable, so a
// developer's settings cannot leak into the process, with authentication
// off (these servers listen on loopback; auth_test.go turns it on), plus
// extra, whose settings win.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ATTUNE_") {
			env = append(env, kv)
		}
	}
	env = append(env, "ATTUNE_AUTH_ENABLED=false")
	// Sandboxed builds run as another user, who can reach the system
	// Python but not one installed in root's home (pyenv).
	if _, err := os.Stat(systemPython); err == nil {
		env = append(env, "ATTUNE_PACKS_PYTHON="+systemPython)
	}
	return append(env, extra...)
}

// start runs the binary with args. The process is killed when the test ends
// if it is still running, and its output is logged if the test failed.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startIn(t, "", env, args...)
}

// startIn is start with dir as the working directory ("" keeps the test's,
// the package directory).
func startIn(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{out: &output{addr: make(chan string, 1)}, done: make(chan struct{})}
	p.cmd = exec.Command(attuneBin, args...)
	p.cmd.Dir = dir
	p.cmd.Env = childEnv(env)
	searchable(t, dir)
	for i, a := range args {
		if a == "-data-dir" && i+1 < len(args) {
			searchable(t, args[i+1])
		}
	}
	for _, key := range []string{"ATTUNE_DATA_DIR", "ATTUNE_PACKS_DIR", "ATTUNE_PACKS_ENVS_DIR"} {
		searchable(t, envValue(env, key))
	}
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("attune %s output:\n%s", strings.Join(args, " "), p.out)
		}
	})
	return p
}

// searchable lets every user traverse the test's temp directories above
// path (t.TempDir makes them 0700): a server running as root runs actions
// as another user, who must reach the packs in the data dir, and refuses to
// start when it cannot.
func searchable(t testing.TB, path string) {
	t.Helper()
	if path == "" {
		return
	}
	abs, err := filepath.Abs(path)
	require.NoError(t, err)
	tmp := filepath.Clean(os.TempDir())
	for d := abs; strings.HasPrefix(d, tmp+string(filepath.Separator)); d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			continue // not made yet: the server makes it
		}
		if st.Mode().Perm()&0o001 == 0 {
			require.NoError(t, os.Chmod(d, st.Mode().Perm()|0o011))
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(stopTimeout):
		t.Fatalf("attune did not exit within %s", stopTimeout)
		return -1
	}
}

// runAttune runs a command that exits on its own and returns its exit code
// and output.
func runAttune(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	p := start(t, env, args...)
	code := p.wait(t)
	return code, p.out.String()
}

// server is a serving attune process.
type server struct {
	*proc
	// url is the base URL, http://127.0.0.1:PORT, without a trailing slash.
	url string
	// dir is the process's working directory; empty for the package
	// directory (every server but startLikeMakeRun's).
	dir string
	// token is the admin token of startLikeMakeRun's servers; empty for
	// the others.
	token string
}

// startServer serves on a free port with its own data directory, waits
// until it listens, and on cleanup stops it with SIGTERM and requires a
// graceful exit with status 0.
func startServer(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	p := start(t, env, append([]string{"-listen", "127.0.0.1:0", "-data-dir", t.TempDir()}, args...)...)
	s := &server{proc: p, url: "http://" + awaitListen(t, p)}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// awaitListen returns the address p listens on, failing the test if it
// exits or does not listen within startTimeout.
func awaitListen(t *testing.T, p *proc) string {
	t.Helper()
	select {
	case addr := <-p.out.addr:
		return addr
	case <-p.done:
		t.Fatalf("attune exited before listening: %v", p.err)
	case <-time.After(startTimeout):
		t.Fatalf("attune did not listen within %s", startTimeout)
	}
	return ""
}

// makeRunTree lists what startLikeMakeRun copies from the repository root
// into the server's working directory: what the README's commands name
// relative to it ("$PWD/examples/packs/python_example").
var makeRunTree = []string{"examples"}

// startLikeMakeRun starts the server the way `make run` (`go run ./server`
// in the repository root) does, for tests of what a newcomer meets, such as
// the README's examples:
//
//   - the working directory is a fresh temp dir laid out like the
//     repository (a copy of makeRunTree), available as s.dir;
//   - no -data-dir and no -config: the relative default "data" applies, so
//     the data directory is s.dir/data, admin token file included;
//   - authentication is on, as by default: s.token is the admin token the
//     server wrote to data/admin-token at first start (or the
//     ATTUNE_ADMIN_TOKEN given in env, which the server writes nowhere).
//
// Only the listen address differs (a free loopback port, not 8080), so such
// tests run in parallel. backend is "sqlite" (the default data/attune.db) or
// "postgres" (ATTUNE_DATABASE_URL is a fresh schema of the test's own, from
// dbtest). env adds KEY=value variables, which win over the helper's. On
// cleanup the server is stopped with SIGTERM and must exit 0.
func startLikeMakeRun(t *testing.T, backend string, env ...string) *server {
	t.Helper()
	dir := t.TempDir()
	for _, name := range makeRunTree {
		require.NoError(t, os.CopyFS(filepath.Join(dir, name), os.DirFS(filepath.Join("..", name))))
	}
	base := []string{"ATTUNE_AUTH_ENABLED=true"}
	switch backend {
	case "sqlite":
	case "postgres":
		base = append(base, "ATTUNE_DATABASE_URL="+dbtest.URL(t, backend))
	default:
		t.Fatalf("startLikeMakeRun: unknown backend %q (want sqlite or postgres)", backend)
	}
	env = append(base, env...)
	p := startIn(t, dir, env, "-listen", "127.0.0.1:0")
	s := &server{proc: p, url: "http://" + awaitListen(t, p), dir: dir, token: envValue(env, "ATTUNE_ADMIN_TOKEN")}
	t.Cleanup(func() { s.stop(t) })
	if s.token == "" {
		raw, err := os.ReadFile(filepath.Join(dir, "data", auth.AdminTokenFile))
		require.NoError(t, err, "the admin token of a first start")
		s.token = strings.TrimSpace(string(raw))
	}
	return s
}

// stop sends SIGTERM unless the process has exited, and requires a graceful
// exit with status 0. Calling it again repeats the checks.
func (s *server) stop(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
	default:
		require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	}
	require.Equal(t, 0, s.wait(t), "exit status after SIGTERM")
	require.Contains(t, s.out.String(), `msg="shutting down"`)
}

// startOn serves on a fresh database of backend.
func startOn(t *testing.T, backend string) *server {
	t.Helper()
	return startServer(t, nil, "-database-url", dbtest.URL(t, backend))
}

// do sends a request and returns the response with its body read.
func do(t *testing.T, method, target string, header http.Header, body string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(b)
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s := startOn(t, backend)
		tests := []struct {
			path       string
			wantStatus string
		}{
			{"/healthz", "ok"},
			{"/readyz", "ready"},
		}
		for _, tt := range tests {
			t.Run(tt.path, func(t *testing.T) {
				t.Parallel()
				res, body := do(t, http.MethodGet, s.url+tt.path, nil, "")
				require.Equal(t, http.StatusOK, res.StatusCode, body)
				require.Equal(t, "application/json", res.Header.Get("Content-Type"))
				var got struct{ Status string }
				require.NoError(t, json.Unmarshal([]byte(body), &got))
				require.Equal(t, tt.wantStatus, got.Status)
			})
		}
	})
}

// firstQuery is the README's first query.
const firstQuery = `{ packs { totalCount } }`

// startWithPack serves on a fresh database, adds a pack to it directly and
// returns the data the first query must answer: the database's own count
// (the server installs packs of its own), which proves the server reads the
// database it was pointed at.
func startWithPack(t *testing.T, backend string) (*server, string) {
	t.Helper()
	dbURL := dbtest.URL(t, backend)
	s := startServer(t, nil, "-database-url", dbURL)
	db, err := store.Open(t.Context(), dbURL, "")
	require.NoError(t, err)
	defer db.Close()
	// No SaveX: a panic would end the test binary and orphan the servers.
	_, err = db.Ent.Pack.Create().SetRef("e2e").SetVersion("1.0.0").Save(t.Context())
	require.NoError(t, err)
	n, err := db.Ent.Pack.Query().Count(t.Context())
	require.NoError(t, err)
	return s, fmt.Sprintf(`{"packs":{"totalCount":%d}}`, n)
}

func TestGraphQLOverHTTP(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s, wantData := startWithPack(t, backend)
		endpoint := s.url + "/graphql"
		tests := []struct {
			name       string
			method     string
			url        string
			header     http.Header
			body       string
			wantStatus int
			want       string // JSON of data, or the first error message
			wantType   string // Content-Type, when checked
			wantCode   string // the first error's extensions.code; every error has one
		}{
			{
				name: "POST", method: http.MethodPost, url: endpoint,
				header: http.Header{"Content-Type": {"application/json"}},
				body:   `{"query":"` + firstQuery + `"}`, wantStatus: http.StatusOK, want: wantData,
				wantType: "application/json",
			},
			{
				name: "POST asking for graphql-response+json", method: http.MethodPost, url: endpoint,
				header: http.Header{"Content-Type": {"application/json"}, "Accept": {"application/graphql-response+json, application/json"}},
				body:   `{"query":"` + firstQuery + `"}`, wantStatus: http.StatusOK, want: wantData,
				wantType: "application/graphql-response+json",
			},
			{
				name: "POST with a syntax error", method: http.MethodPost, url: endpoint,
				header:     http.Header{"Content-Type": {"application/json"}},
				body:       `{"query":"{ packs { totalCount }"}`,
				wantStatus: http.StatusUnprocessableEntity, want: "Expected Name, found <EOF>",
				wantType: "application/json", wantCode: "GRAPHQL_PARSE_FAILED",
			},
			{
				name: "POST with a body that is not a request", method: http.MethodPost, url: endpoint,
				header:     http.Header{"Content-Type": {"application/json"}},
				body:       `{"query":`,
				wantStatus: http.StatusBadRequest, want: "json request body could not be decoded: unexpected EOF",
				wantCode: "BAD_USER_INPUT",
			},
			{
				name: "POST of another content type", method: http.MethodPost, url: endpoint,
				header:     http.Header{"Content-Type": {"text/plain"}},
				body:       `{"query":"` + firstQuery + `"}`,
				wantStatus: http.StatusBadRequest, want: "transport not supported", wantCode: "BAD_USER_INPUT",
			},
			{
				name: "PUT", method: http.MethodPut, url: endpoint,
				wantStatus: http.StatusBadRequest, want: "transport not supported", wantCode: "BAD_USER_INPUT",
			},
			{
				name: "GET with undecodable variables", method: http.MethodGet,
				url:        endpoint + "?query=" + url.QueryEscape(firstQuery) + "&variables=%7B",
				wantStatus: http.StatusBadRequest, want: "variables could not be decoded", wantCode: "BAD_USER_INPUT",
			},
			{
				name: "GET", method: http.MethodGet, url: endpoint + "?query=" + url.QueryEscape(firstQuery),
				wantStatus: http.StatusOK, want: wantData,
			},
			{
				name: "GET refuses mutations", method: http.MethodGet,
				url:        endpoint + "?query=" + url.QueryEscape(`mutation { deleteRule(ref: "e2e.r") { deletedRef } }`),
				wantStatus: http.StatusNotAcceptable, want: "GET requests only allow query operations",
				wantCode: "BAD_USER_INPUT",
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				res, body := do(t, tt.method, tt.url, tt.header, tt.body)
				require.Equal(t, tt.wantStatus, res.StatusCode, body)
				if tt.wantType != "" {
					require.Equal(t, tt.wantType, res.Header.Get("Content-Type"))
				}
				var got gqltest.Response
				require.NoError(t, json.Unmarshal([]byte(body), &got), body)
				if tt.wantStatus != http.StatusOK {
					require.NotEmpty(t, got.Errors, body)
					require.Equal(t, tt.want, got.Errors[0].Message)
					require.Equal(t, tt.wantCode, got.Errors[0].Code(), body)
					return
				}
				require.Empty(t, got.Errors)
				require.JSONEq(t, tt.want, string(got.Data))
			})
		}
	})
}

// wsMessage is a frame of both GraphQL websocket protocols.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// dialGraphQL opens a websocket to the server's /graphql, offering
// subprotocol and sending origin (none when empty).
func dialGraphQL(ctx context.Context, s *server, subprotocol, origin string) (*websocket.Conn, *http.Response, error) {
	header := http.Header{}
	if origin != "" {
		header.Set("Origin", origin)
	}
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.url, "http")+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{subprotocol},
		HTTPHeader:   header,
	})
}

// readFrame returns the next frame that is not a keep-alive.
func readFrame(ctx context.Context, t *testing.T, c *websocket.Conn) wsMessage {
	t.Helper()
	for {
		var m wsMessage
		require.NoError(t, wsjson.Read(ctx, c, &m))
		switch m.Type {
		case "ka", "ping", "pong":
			continue
		}
		return m
	}
}

func TestWebsocketTransport(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		s, wantData := startWithPack(t, backend)
		tests := []struct {
			subprotocol string
			start       string // message type that starts an operation
			result      string // message type that carries its result
		}{
			{"graphql-transport-ws", "subscribe", "next"},
			{"graphql-ws", "start", "data"},
		}
		for _, tt := range tests {
			t.Run(tt.subprotocol, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				// A browser app on the Vite dev server, allowed by the default origins.
				c, _, err := dialGraphQL(ctx, s, tt.subprotocol, "http://localhost:5173")
				require.NoError(t, err)
				defer c.CloseNow()
				require.Equal(t, tt.subprotocol, c.Subprotocol())

				require.NoError(t, wsjson.Write(ctx, c, wsMessage{Type: "connection_init"}))
				require.Equal(t, "connection_ack", readFrame(ctx, t, c).Type)
				payload, err := json.Marshal(map[string]string{"query": firstQuery})
				require.NoError(t, err)
				require.NoError(t, wsjson.Write(ctx, c, wsMessage{ID: "1", Type: tt.start, Payload: payload}))

				res := readFrame(ctx, t, c)
				require.Equal(t, wsMessage{ID: "1", Type: tt.result, Payload: res.Payload}, res)
				require.JSONEq(t, `{"data":`+wantData+`}`, string(res.Payload))
				require.Equal(t, wsMessage{ID: "1", Type: "complete"}, readFrame(ctx, t, c))
				require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
			})
		}
	})
}

func TestShutdownClosesOpenWebsocket(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), stopTimeout)
	defer cancel()
	c, _, err := dialGraphQL(ctx, s, "graphql-transport-ws", "")
	require.NoError(t, err)
	defer c.CloseNow()
	require.NoError(t, wsjson.Write(ctx, c, wsMessage{Type: "connection_init"}))
	require.Equal(t, "connection_ack", readFrame(ctx, t, c).Type)

	s.stop(t)
	_, _, err = c.Read(ctx)
	require.Error(t, err, "the socket outlived the server")
	require.NoError(t, ctx.Err(), "the socket stayed open after the server exited")
}

func TestWebsocketOrigins(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	tests := []struct {
		name       string
		origin     string
		wantStatus int
	}{
		{"no origin (not a browser)", "", http.StatusSwitchingProtocols},
		{"same origin (the playground)", s.url, http.StatusSwitchingProtocols},
		{"allowed localhost port", "http://localhost:5173", http.StatusSwitchingProtocols},
		{"allowed loopback port", "http://127.0.0.1:3000", http.StatusSwitchingProtocols},
		{"foreign", "http://evil.example", http.StatusForbidden},
		{"foreign with localhost prefix", "http://localhost.evil.example:5173", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c, res, err := dialGraphQL(ctx, s, "graphql-transport-ws", tt.origin)
			require.NotNil(t, res, "dial: %v", err)
			require.Equal(t, tt.wantStatus, res.StatusCode, "dial: %v", err)
			if err == nil {
				require.NoError(t, c.Close(websocket.StatusNormalClosure, ""))
			}
		})
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	local := startServer(t, nil)
	anyOrigin := startServer(t, []string{"ATTUNE_CORS_ALLOWED_ORIGINS=*"})
	preflight := func(origin string) http.Header {
		return http.Header{
			"Origin":                         {origin},
			"Access-Control-Request-Method":  {http.MethodPost},
			"Access-Control-Request-Headers": {"content-type"},
		}
	}
	tests := []struct {
		name       string
		server     *server
		method     string
		header     http.Header
		body       string
		wantOrigin string // Access-Control-Allow-Origin
		wantCreds  string // Access-Control-Allow-Credentials
	}{
		{
			name: "preflight from the Vite dev server", server: local, method: http.MethodOptions,
			header: preflight("http://localhost:5173"), wantOrigin: "http://localhost:5173", wantCreds: "true",
		},
		{
			name: "preflight from loopback", server: local, method: http.MethodOptions,
			header: preflight("http://127.0.0.1:3000"), wantOrigin: "http://127.0.0.1:3000", wantCreds: "true",
		},
		{
			name: "preflight from a foreign origin", server: local, method: http.MethodOptions,
			header: preflight("http://evil.example"),
		},
		{
			name: "request from an allowed origin", server: local, method: http.MethodPost,
			header: http.Header{"Origin": {"http://localhost:5173"}, "Content-Type": {"application/json"}},
			body:   `{"query":"` + firstQuery + `"}`, wantOrigin: "http://localhost:5173", wantCreds: "true",
		},
		{
			name: "wildcard allows any origin without credentials", server: anyOrigin, method: http.MethodOptions,
			header: preflight("http://evil.example"), wantOrigin: "*",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, body := do(t, tt.method, tt.server.url+"/graphql", tt.header, tt.body)
			require.Less(t, res.StatusCode, 300, body)
			require.Equal(t, tt.wantOrigin, res.Header.Get("Access-Control-Allow-Origin"))
			require.Equal(t, tt.wantCreds, res.Header.Get("Access-Control-Allow-Credentials"))
		})
	}
}

// requireOrSkip skips the test loudly when a prerequisite is missing, except
// in CI, where it must be there.
func requireOrSkip(t *testing.T, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %s", why)
	}
	t.Skipf("SKIPPING PLAYGROUND TEST: %s", why)
}

// assetRef matches the src or href of a <script> or <link> on the page.
var assetRef = regexp.MustCompile(`(?:src|href)="([^"]*)"`)

func TestPlaygroundServesSameOriginAssets(t *testing.T) {
	t.Parallel()
	requireOrSkip(t, playground.Available(), "playground assets not fetched (run make assets)")
	s := startServer(t, nil)
	res, page := do(t, http.MethodGet, s.url+"/", nil, "")
	require.Equal(t, http.StatusOK, res.StatusCode, page)
	require.Equal(t, "text/html; charset=UTF-8", res.Header.Get("Content-Type"))
	require.Contains(t, page, "<title>attune</title>")
	require.NotRegexp(t, `(?:src|href)\s*=\s*"[a-z]+:`, page, "no absolute URL may be loaded")
	require.NotContains(t, page, "cdn.")

	refs := assetRef.FindAllStringSubmatch(page, -1)
	require.NotEmpty(t, refs)
	for _, ref := range refs {
		path := html.UnescapeString(ref[1])
		require.True(t, strings.HasPrefix(path, "/playground/assets/"), path)
		res, body := do(t, http.MethodGet, s.url+path, nil, "")
		require.Equal(t, http.StatusOK, res.StatusCode, path)
		require.NotEmpty(t, body, path)
	}
}

func TestPlaygroundRendersInChromium(t *testing.T) {
	t.Parallel()
	requireOrSkip(t, playground.Available(), "playground assets not fetched (run make assets)")
	chromium, err := exec.LookPath("chromium")
	requireOrSkip(t, err == nil, "chromium not installed (apt-get install -y chromium)")
	s := startServer(t, nil)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// go test -artifacts keeps the screenshot under the output directory.
	screenshot := filepath.Join(t.ArtifactDir(), "playground.png")
	netLog := filepath.Join(t.TempDir(), "netlog.json")
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=10000", "--window-size=1280,800",
		"--log-net-log="+netLog, "--screenshot="+screenshot, "--dump-dom", s.url+"/")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	require.NoError(t, err, "chromium: %s", stderr.String())

	for _, want := range []string{
		`class="graphiql-container"`,
		`class="CodeMirror cm-s-graphiql`,
		"Welcome to GraphiQL",
		`aria-label="Show GraphiQL Explorer"`,
	} {
		require.Contains(t, string(dom), want)
	}
	require.NotContains(t, string(dom), "Loading…")

	// Everything the page fetched came from the server itself, including
	// GraphiQL's introspection query to the real /graphql.
	requests := pageRequests(t, netLog, s.url)
	require.Contains(t, requests, "POST "+s.url+"/graphql")
	require.Contains(t, requests, "GET "+s.url+"/playground/assets/graphiql.min.js")
	for _, r := range requests {
		_, u, _ := strings.Cut(r, " ")
		require.True(t, strings.HasPrefix(u, s.url+"/"), "the page loaded %s", u)
	}

	f, err := os.Open(screenshot)
	require.NoError(t, err)
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	require.NoError(t, err)
	require.Equal(t, 1280, cfg.Width)
	require.Equal(t, 800, cfg.Height)
	info, err := f.Stat()
	require.NoError(t, err)
	require.Greater(t, info.Size(), int64(20_000), "a rendered editor, not a blank page")
}

// pageRequests returns "METHOD URL" of every request a page from origin
// started, read from a Chromium net log (--log-net-log). Requests Chromium
// makes on its own have no initiator and are left out.
func pageRequests(t *testing.T, netLog, origin string) []string {
	t.Helper()
	raw, err := os.ReadFile(netLog)
	require.NoError(t, err)
	var log struct {
		Constants struct {
			LogEventTypes map[string]int `json:"logEventTypes"`
		} `json:"constants"`
		Events []struct {
			Type   int             `json:"type"`
			Params json.RawMessage `json:"params"`
		} `json:"events"`
	}
	require.NoError(t, json.Unmarshal(raw, &log), "net log")
	startJob, ok := log.Constants.LogEventTypes["URL_REQUEST_START_JOB"]
	require.True(t, ok, "net log without URL_REQUEST_START_JOB events")
	var out []string
	for _, e := range log.Events {
		if e.Type != startJob || len(e.Params) == 0 { // end phases carry no params
			continue
		}
		var p struct{ Initiator, Method, URL string }
		require.NoError(t, json.Unmarshal(e.Params, &p))
		if p.Initiator == origin {
			out = append(out, p.Method+" "+p.URL)
		}
	}
	return out
}

func TestMigrateThenServe(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		dbURL := dbtest.URL(t, backend)
		code, out := runAttune(t, nil, "migrate", "-database-url", dbURL, "-data-dir", t.TempDir())
		require.Equal(t, 0, code, out)
		require.Contains(t, out, `msg="database ready"`)
		require.NotContains(t, out, "attune listening")

		db, err := store.Open(t.Context(), dbURL, "")
		require.NoError(t, err)
		pending, err := db.Pending(t.Context())
		require.NoError(t, db.Close())
		require.NoError(t, err)
		require.Empty(t, pending, "migrate left migrations pending")

		s := startServer(t, nil, "-database-url", dbURL)
		res, body := do(t, http.MethodGet, s.url+"/readyz", nil, "")
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		require.JSONEq(t, `{"status":"ready"}`, body)
	})
}

func TestInvalidInvocationExits2(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown role", nil, []string{"-roles", "foo"}, `attune: config: roles: unknown role "foo"`},
		{"unknown flag", nil, []string{"-nope"}, "flag provided but not defined: -nope"},
		{"unknown command", nil, []string{"frobnicate"}, `attune: unknown command "frobnicate"`},
		{"bad listen", nil, []string{"-listen", "8080"}, `attune: config: listen "8080"`},
		{"bad environment", []string{"ATTUNE_GRAPHQL_MAX_DEPTH=deep"}, nil, "ATTUNE_GRAPHQL_MAX_DEPTH"},
		{"missing config file", nil, []string{"-config", "/nonexistent/attune.yaml"}, "reading config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out := runAttune(t, tt.env, append(tt.args, "-data-dir", t.TempDir())...)
			require.Equal(t, 2, code, out)
			require.Contains(t, out, tt.want)
			require.NotContains(t, out, "attune listening")
		})
	}
}

// writeTree writes files (path → body, executable) under a new temp dir,
// for packs the tests install.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o755))
	}
	return dir
}
