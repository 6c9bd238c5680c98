package fetch_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/fetch"
	"github.com/attune-io/attune/internal/fetch/fetchtest"
)

// packServer serves a pack archived in several ways, plus failure modes.
func packServer(t *testing.T) *httptest.Server {
	t.Helper()
	src := t.TempDir()
	writePack(t, src)
	targz, zipped := fetchtest.TarGz(t, src), fetchtest.Zip(t, src)
	serve := func(contentType string, body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/pack.tar.gz", serve("application/octet-stream", targz))
	mux.Handle("/pack.tgz", serve("application/octet-stream", targz))
	mux.Handle("/pack.zip", serve("application/octet-stream", zipped))
	mux.Handle("/download/zip", serve("application/zip", zipped))
	mux.Handle("/download/targz", serve("application/x-gzip", targz))
	mux.Handle("/download/text", serve("text/plain", []byte("hello")))
	mux.Handle("/big.tar.gz", serve("application/gzip", make([]byte, 5000)))
	mux.HandleFunc("/chunked.tar.gz", func(w http.ResponseWriter, _ *http.Request) {
		for range 5 { // flushing forces chunked encoding: no Content-Length to check
			_, _ = w.Write(make([]byte, 1000))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/error.tar.gz", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	mux.HandleFunc("/stall.tar.gz", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // until the client gives up
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchURL(t *testing.T) {
	t.Parallel()
	srv := packServer(t)
	tests := []struct {
		name   string
		source string // parsed with fetch.Parse
		src    fetch.Source
	}{
		{name: "tar.gz", source: srv.URL + "/pack.tar.gz"},
		{name: "tgz", source: srv.URL + "/pack.tgz"},
		{name: "zip with query", source: srv.URL + "/pack.zip?token=abc"},
		{name: "zip by Content-Type", src: fetch.Source{Kind: fetch.KindURL, Location: srv.URL + "/download/zip"}},
		{name: "tar.gz by Content-Type", src: fetch.Source{Kind: fetch.KindURL, Location: srv.URL + "/download/targz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := tt.src
			if tt.source != "" {
				var err error
				src, err = fetch.Parse(tt.source)
				require.NoError(t, err)
				require.Equal(t, fetch.KindURL, src.Kind)
			}
			parent, dst := newDst(t)
			require.NoError(t, fetch.Fetch(t.Context(), src, dst, fetch.Limits{}))
			requirePack(t, dst)
			requireOnlyDst(t, parent)
		})
	}
}

func TestFetchURLRefuses(t *testing.T) {
	t.Parallel()
	srv := packServer(t)
	withCreds := strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1)
	tests := []struct {
		name string
		path string
		lim  fetch.Limits
		code string
		want string
	}{
		{"404", "/missing.tar.gz", fetch.Limits{}, fetch.CodeNotFound, "HTTP 404 Not Found"},
		{"500", "/error.tar.gz", fetch.Limits{}, fetch.CodeBadUserInput, "HTTP 500 Internal Server Error"},
		{"Content-Length over MaxDownload", "/big.tar.gz", fetch.Limits{MaxDownload: 1000}, fetch.CodeBadUserInput, "5000 bytes, more than the 1000 byte limit"},
		{"stream over MaxDownload", "/chunked.tar.gz", fetch.Limits{MaxDownload: 1000}, fetch.CodeBadUserInput, "more than the 1000 byte limit"},
		{"unknown Content-Type", "/download/text", fetch.Limits{}, fetch.CodeBadUserInput, `Content-Type "text/plain"`},
		{"timeout", "/stall.tar.gz", fetch.Limits{DownloadTimeout: 50 * time.Millisecond}, fetch.CodeBadUserInput, "timed out after 50ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parent, dst := newDst(t)
			src := fetch.Source{Kind: fetch.KindURL, Location: withCreds + tt.path + "?sig=topsecret"}
			err := fetch.Fetch(t.Context(), src, dst, tt.lim)
			requireCode(t, err, tt.code, tt.want, "REDACTED")
			require.NotContains(t, err.Error(), "alice")
			require.NotContains(t, err.Error(), "s3cret")
			require.NotContains(t, err.Error(), "topsecret")
			requireOnlyDst(t, parent)
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		dead := httptest.NewServer(http.NotFoundHandler())
		loc := strings.Replace(dead.URL, "http://", "http://alice:s3cret@", 1) + "/pack.tar.gz"
		dead.Close()
		parent, dst := newDst(t)
		err := fetch.Fetch(t.Context(), fetch.Source{Kind: fetch.KindURL, Location: loc}, dst, fetch.Limits{})
		requireCode(t, err, fetch.CodeBadUserInput, "connection refused")
		require.NotContains(t, err.Error(), "s3cret")
		require.NotContains(t, err.Error(), "alice")
		requireOnlyDst(t, parent)
	})
}
