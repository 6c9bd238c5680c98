package playground

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

const assetsPrefix = "/playground/assets/"

// fakeAssets holds a small stand-in for every asset, so the page logic is tested without
// fetched files.
func fakeAssets() fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, name := range assetNames() {
		fsys[name] = &fstest.MapFile{Data: []byte("/* " + name + " */")}
	}
	return fsys
}

// get fetches path from h, returning the response and its body.
func get(t *testing.T, h http.Handler, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(body)
}

// assetRef matches the src or href of a <script> or <link> on the page with its integrity.
var assetRef = regexp.MustCompile(`(?:src|href)="([^"]*)"\s+integrity="([^"]*)"`)

func TestPageLoadsOnlySameOriginAssets(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{assetsPrefix, strings.TrimSuffix(assetsPrefix, "/")} {
		t.Run(prefix, func(t *testing.T) {
			t.Parallel()
			h := newHandler(fakeAssets(), "attune", "/graphql", prefix)
			res, page := get(t, h, "/", nil)
			require.Equal(t, http.StatusOK, res.StatusCode)
			require.Contains(t, page, "<title>attune</title>")
			require.Contains(t, page, "subscriptionUrl = wsProto + '//' + location.host", "subscriptions go over ws to the page's host")
			require.NotRegexp(t, `(?:src|href)\s*=\s*"[a-z]+:`, page, "no absolute URL may be loaded")

			refs := assetRef.FindAllStringSubmatch(page, -1)
			require.Len(t, refs, len(assetNames()))
			for _, ref := range refs {
				url, integrity := html.UnescapeString(ref[1]), html.UnescapeString(ref[2])
				require.True(t, strings.HasPrefix(url, assetsPrefix), url)
				res, body := get(t, h, url, nil)
				require.Equal(t, http.StatusOK, res.StatusCode, url)
				sum := sha256.Sum256([]byte(body))
				require.Equal(t, "sha256-"+base64.StdEncoding.EncodeToString(sum[:]), integrity, url)
			}
		})
	}
}

func TestAssetResponses(t *testing.T) {
	t.Parallel()
	h := newHandler(fakeAssets(), "attune", "/graphql", assetsPrefix)
	_, js := get(t, h, assetsPrefix+graphiqlJS, nil)
	sum := sha256.Sum256([]byte(js))
	etag := `"sha256-` + base64.StdEncoding.EncodeToString(sum[:]) + `"`
	tests := []struct {
		name       string
		path       string
		header     http.Header
		wantStatus int
		wantType   string
	}{
		{"script", assetsPrefix + graphiqlJS, nil, http.StatusOK, "text/javascript; charset=utf-8"},
		{"react", assetsPrefix + reactJS, nil, http.StatusOK, "text/javascript; charset=utf-8"},
		{"stylesheet", assetsPrefix + graphiqlCSS, nil, http.StatusOK, "text/css; charset=utf-8"},
		{"explorer stylesheet", assetsPrefix + explorerCSS, nil, http.StatusOK, "text/css; charset=utf-8"},
		{"revalidated", assetsPrefix + graphiqlJS, http.Header{"If-None-Match": {etag}}, http.StatusNotModified, ""},
		{"unknown asset", assetsPrefix + "README.md", nil, http.StatusNotFound, "text/plain; charset=utf-8"},
		{"other path", "/graphiql", nil, http.StatusNotFound, "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, _ := get(t, h, tt.path, tt.header)
			require.Equal(t, tt.wantStatus, res.StatusCode)
			require.Equal(t, tt.wantType, res.Header.Get("Content-Type"))
		})
	}
}

func TestMissingAssetsExplainHowToFetchThem(t *testing.T) {
	t.Parallel()
	oneMissing := fakeAssets()
	delete(oneMissing, explorerCSS)
	tests := []struct {
		name string
		fsys fstest.MapFS
	}{
		{"none", fstest.MapFS{"README.md": {Data: []byte("run make assets")}}},
		{"one", oneMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHandler(tt.fsys, "attune", "/graphql", assetsPrefix)
			res, page := get(t, h, "/", nil)
			require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
			require.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
			require.Contains(t, page, "make assets")
			res, _ = get(t, h, assetsPrefix+reactJS, nil)
			require.Equal(t, http.StatusNotFound, res.StatusCode)
		})
	}
}

func TestRelativeAssetsPrefixPanics(t *testing.T) {
	t.Parallel()
	require.Panics(t, func() { newHandler(fakeAssets(), "attune", "/graphql", "playground/assets/") })
}

// The page rendering in a real browser is tested against the real server:
// server/main_test.go, TestPlaygroundRendersInChromium.
