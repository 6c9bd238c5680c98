package inproc

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHTTPRequest(t *testing.T) {
	t.Parallel()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, pass, _ := r.BasicAuth()
		cookie, _ := r.Cookie("session")
		echo := map[string]any{
			"method": r.Method, "query": r.URL.RawQuery, "body": string(body), "ct": r.Header.Get("Content-Type"),
			"user": user, "pass": pass, "token": r.Header.Get("X-Auth-Token"), "ua": r.Header.Get("User-Agent"),
		}
		if cookie != nil {
			echo["cookie"] = cookie.Value
		}
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_ = json.NewEncoder(w).Encode(echo)
		case "/badjson":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("{not json"))
		case "/text":
			_, _ = w.Write([]byte("plain"))
		case "/accepted":
			w.WriteHeader(http.StatusPartialContent)
		case "/redirect":
			http.Redirect(w, r, "/text", http.StatusFound)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(web.Close)
	u, _ := url.Parse(web.URL)

	tests := []struct {
		name   string
		params map[string]any
		status Status
		check  func(t *testing.T, res map[string]any)
	}{
		{
			name:   "GET JSON is parsed",
			params: map[string]any{"url": web.URL + "/json?a=1", "params": map[string]any{"b": "2"}, "cookies": map[string]any{"session": "s1"}},
			status: Succeeded,
			check: func(t *testing.T, res map[string]any) {
				require.Equal(t, 200, res["status_code"])
				require.Equal(t, true, res["parsed"])
				body := res["body"].(map[string]any)
				require.Equal(t, "GET", body["method"])
				require.Equal(t, "a=1&b=2", body["query"])
				require.Equal(t, "s1", body["cookie"])
				require.Equal(t, httpUserAgent, body["ua"])
				require.Equal(t, "application/json; charset=utf-8", res["headers"].(map[string]any)["Content-Type"])
			},
		},
		{
			name: "a body without method is POSTed, re-encoded as JSON for a JSON content type",
			params: map[string]any{"url": web.URL + "/json", "body": `{"n": 1}`,
				"headers": map[string]any{"content-type": "application/json"}, "username": "u", "password": "p"},
			status: Succeeded,
			check: func(t *testing.T, res map[string]any) {
				body := res["body"].(map[string]any)
				require.Equal(t, "POST", body["method"])
				require.Equal(t, `{"n":1}`, body["body"])
				require.Equal(t, "u", body["user"])
				require.Equal(t, "p", body["pass"])
			},
		},
		{
			name:   "auth name=value is a header",
			params: map[string]any{"url": web.URL + "/json", "auth": "x-auth-token=XYZ", "method": "PUT", "body": "raw"},
			status: Succeeded,
			check: func(t *testing.T, res map[string]any) {
				body := res["body"].(map[string]any)
				require.Equal(t, "XYZ", body["token"])
				require.Equal(t, "PUT", body["method"])
				require.Equal(t, "raw", body["body"])
			},
		},
		{
			name:   "JSON that does not parse stays text",
			params: map[string]any{"url": web.URL + "/badjson"},
			status: Succeeded,
			check: func(t *testing.T, res map[string]any) {
				require.Equal(t, "{not json", res["body"])
				require.Equal(t, false, res["parsed"])
			},
		},
		{
			name: "206 succeeds", params: map[string]any{"url": web.URL + "/accepted"}, status: Succeeded,
			check: func(t *testing.T, res map[string]any) { require.Equal(t, 206, res["status_code"]) },
		},
		{
			name: "404 fails with the response", params: map[string]any{"url": web.URL + "/nope"}, status: Failed,
			check: func(t *testing.T, res map[string]any) {
				require.Equal(t, 404, res["status_code"])
				require.Equal(t, "404 page not found\n", res["body"])
			},
		},
		{
			name: "redirects are not followed by default", params: map[string]any{"url": web.URL + "/redirect"}, status: Failed,
			check: func(t *testing.T, res map[string]any) { require.Equal(t, 302, res["status_code"]) },
		},
		{
			name: "allow_redirects follows", params: map[string]any{"url": web.URL + "/redirect", "allow_redirects": true}, status: Succeeded,
			check: func(t *testing.T, res map[string]any) { require.Equal(t, "plain", res["body"]) },
		},
		{
			name: "timeout", params: map[string]any{"url": web.URL + "/slow", "timeout": 0.2}, status: TimedOut,
			check: func(t *testing.T, res map[string]any) { require.Contains(t, res["error"], "timed out") },
		},
		{
			name:   "blacklisted host",
			params: map[string]any{"url": web.URL + "/text", "url_hosts_blacklist": []any{u.Hostname()}}, status: Failed,
			check: func(t *testing.T, res map[string]any) { require.Contains(t, res["error"], "is blacklisted") },
		},
		{
			name:   "host not whitelisted",
			params: map[string]any{"url": web.URL + "/text", "url_hosts_whitelist": []any{"example.com"}}, status: Failed,
			check: func(t *testing.T, res map[string]any) { require.Contains(t, res["error"], "is not whitelisted") },
		},
		{
			name:   "whitelisted host",
			params: map[string]any{"url": web.URL + "/text", "url_hosts_whitelist": []any{u.Hostname()}}, status: Succeeded,
			check: func(t *testing.T, res map[string]any) { require.Equal(t, "plain", res["body"]) },
		},
		{
			name:   "file upload",
			params: map[string]any{"url": web.URL + "/json", "file_name": "f.txt", "file_content": "hello"}, status: Succeeded,
			check: func(t *testing.T, res map[string]any) {
				body := res["body"].(map[string]any)
				require.Equal(t, "POST", body["method"])
				require.True(t, strings.HasPrefix(body["ct"].(string), "multipart/form-data"))
				require.Contains(t, body["body"], "hello")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := Run(t.Context(), Options{}, Request{Runner: "http-request", ActionRef: "t.http", Parameters: tt.params})
			require.NoError(t, err)
			require.Equal(t, tt.status, out.Status, "%+v", out)
			if tt.status == Succeeded {
				require.Zero(t, out.ExitCode)
			} else {
				require.NotZero(t, out.ExitCode)
			}
			tt.check(t, out.Result.(map[string]any))
		})
	}

	t.Run("a bad url does not start", func(t *testing.T) {
		t.Parallel()
		_, err := Run(t.Context(), Options{}, Request{Runner: "http-request", Parameters: map[string]any{"url": "ftp://x"}})
		var pe *PrepareError
		require.ErrorAs(t, err, &pe)
	})
	t.Run("the execution's end wins", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		out, err := Run(ctx, Options{}, Request{Runner: "http-request", Parameters: map[string]any{"url": web.URL + "/slow"}})
		require.NoError(t, err)
		require.Equal(t, TimedOut, out.Status)
	})
}

func TestNoopAndUnavailable(t *testing.T) {
	t.Parallel()
	out, err := Run(t.Context(), Options{}, Request{Runner: "noop"})
	require.NoError(t, err)
	require.Equal(t, Succeeded, out.Status)
	require.Equal(t, map[string]any{"failed": false, "succeeded": true, "return_code": 0}, out.Result)
	for _, r := range []string{"orquesta", "action-chain", "inquirer"} {
		_, err := Run(t.Context(), Options{}, Request{Runner: r})
		var pe *PrepareError
		require.ErrorAs(t, err, &pe, r)
		require.Contains(t, pe.Cause, "runner "+r+" is not available yet")
	}
}
