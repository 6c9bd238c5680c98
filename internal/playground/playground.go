// Package playground serves the GraphiQL playground with its JavaScript and CSS embedded in the
// binary, so it renders on machines without access to any CDN.
//
// The page is gqlgen's GraphiQL page, pointed at same-origin copies of the files it would load from
// cdn.jsdelivr.net. The copies are fetched from the npm registry at build time by fetch-assets.sh
// (`make assets`) and are not committed; a binary built without them serves a page saying so.
package playground

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	gqlplayground "github.com/99designs/gqlgen/graphql/playground"
)

// Names of the files under assets/, as written by fetch-assets.sh.
const (
	graphiqlJS  = "graphiql.min.js"
	graphiqlCSS = "graphiql.min.css"
	reactJS     = "react.production.min.js"
	reactDOMJS  = "react-dom.production.min.js"
	explorerJS  = "plugin-explorer.umd.js"
	explorerCSS = "plugin-explorer.css"
)

// assetNames lists every file the page loads.
func assetNames() []string {
	return []string{graphiqlJS, graphiqlCSS, reactJS, reactDOMJS, explorerJS, explorerCSS}
}

//go:embed assets
var embedded embed.FS

// missingPage is what "/" shows when the binary was built without the assets.
const missingPage = `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>GraphiQL playground unavailable</title></head>
<body>
<h1>GraphiQL playground unavailable</h1>
<p>This binary was built without the playground's JavaScript and CSS.
Run <code>make assets</code> in the source tree, then rebuild.</p>
<p>The GraphQL API itself works without them.</p>
</body>
</html>
`

// Available reports whether the playground's assets were embedded at build time, so callers can
// log a hint at startup instead of users discovering a placeholder page.
func Available() bool {
	_, err := loadAssets(assetsFS())
	return err == nil
}

// Handler serves the GraphiQL page at "/" and its assets under assetsPrefix (an absolute path
// ending in "/", such as "/playground/assets/"). The page sends queries to endpoint and
// subscriptions to the same path over ws:// or wss://, derived from the page's location when
// endpoint is a path. Without embedded assets, "/" explains how to build them.
func Handler(title, endpoint, assetsPrefix string) http.Handler {
	return newHandler(assetsFS(), title, endpoint, assetsPrefix)
}

// assetsFS returns the embedded assets directory as the root of a file system.
func assetsFS() fs.FS {
	sub, err := fs.Sub(embedded, "assets")
	if err != nil {
		panic(fmt.Sprintf("embedded assets: %v", err)) // unreachable: "assets" is a valid path
	}
	return sub
}

// newHandler is Handler over any file system, so tests can serve fake or missing assets.
func newHandler(fsys fs.FS, title, endpoint, assetsPrefix string) http.Handler {
	if !strings.HasPrefix(assetsPrefix, "/") {
		panic(fmt.Sprintf("playground: assets prefix %q is not an absolute path", assetsPrefix))
	}
	assetsPrefix = strings.TrimSuffix(assetsPrefix, "/") + "/"
	mux := http.NewServeMux()
	assets, err := loadAssets(fsys)
	if err != nil {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(missingPage))
		})
		return mux
	}
	url := func(name string) string { return assetsPrefix + name }
	sri := func(name string) string { return assets[name].integrity }
	mux.Handle("GET /{$}", gqlplayground.Handler(title, endpoint,
		gqlplayground.WithGraphiqlVersion(url(graphiqlJS), url(graphiqlCSS), sri(graphiqlJS), sri(graphiqlCSS)),
		gqlplayground.WithGraphiqlReactVersion(url(reactJS), url(reactDOMJS), sri(reactJS), sri(reactDOMJS)),
		gqlplayground.WithGraphiqlPluginExplorerVersion(url(explorerJS), url(explorerCSS), sri(explorerJS), sri(explorerCSS)),
		gqlplayground.WithGraphiqlEnablePluginExplorer(true),
	))
	mux.HandleFunc("GET "+assetsPrefix+"{name}", func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[r.PathValue("name")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", a.contentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("ETag", `"`+a.integrity+`"`)
		w.Header().Set("Cache-Control", "no-cache") // revalidate: names carry no version
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
	})
	return mux
}

// asset is one embedded file, ready to serve.
type asset struct {
	data        []byte
	contentType string
	integrity   string // Subresource Integrity value, also used as the ETag
}

// loadAssets reads every file the page needs from fsys, failing if any is missing.
func loadAssets(fsys fs.FS) (map[string]asset, error) {
	assets := make(map[string]asset)
	for _, name := range assetNames() {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("reading playground asset (run make assets): %w", err)
		}
		sum := sha256.Sum256(data)
		assets[name] = asset{
			data:        data,
			contentType: contentType(name),
			integrity:   "sha256-" + base64.StdEncoding.EncodeToString(sum[:]),
		}
	}
	return assets, nil
}

// contentType maps the extensions of the assets to their media types, independent of the
// host's mime.types.
func contentType(name string) string {
	if path.Ext(name) == ".css" {
		return "text/css; charset=utf-8"
	}
	return "text/javascript; charset=utf-8"
}
