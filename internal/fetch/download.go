package fetch

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
)

// download GETs an archive URL into a temporary file beside dst, within
// lim.DownloadTimeout and lim.MaxDownload, and extracts it into dst.
func download(ctx context.Context, rawURL, dst string, lim Limits) error {
	dctx, cancel := context.WithTimeout(ctx, lim.DownloadTimeout)
	defer cancel()
	err := get(dctx, cancel, rawURL, dst, lim)
	return transferErr(ctx, dctx, "download "+redact(rawURL), lim.DownloadTimeout, err)
}

// get does download's work; it calls cancel once the body is in, so that
// extraction is not bound by the download timeout.
func get(ctx context.Context, cancel context.CancelFunc, rawURL, dst string, lim Limits) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return badInput("invalid URL")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// *url.Error repeats the URL with its user name; report only the cause.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return badInput("%s", scrub(err.Error()))
	}
	defer func() { _ = resp.Body.Close() }()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusGone:
		return notFound("HTTP %s", resp.Status)
	default:
		return badInput("HTTP %s", resp.Status)
	}
	format := FormatOf(req.URL.Path)
	if format == "" {
		format = formatOfContentType(resp.Header.Get("Content-Type"))
	}
	if format == "" {
		return badInput("not a .tar.gz, .tgz or .zip archive (Content-Type %q)", resp.Header.Get("Content-Type"))
	}
	if resp.ContentLength > lim.MaxDownload {
		return badInput("archive is %d bytes, more than the %d byte limit", resp.ContentLength, lim.MaxDownload)
	}
	return withSpool(resp.Body, filepath.Dir(dst), lim.MaxDownload, func(f *os.File, n int64) error {
		cancel()
		return Extract(f, format, n, dst, lim)
	})
}

func formatOfContentType(contentType string) string {
	mediaType, _, _ := mime.ParseMediaType(contentType)
	switch mediaType {
	case "application/zip", "application/x-zip-compressed":
		return FormatZip
	case "application/gzip", "application/x-gzip", "application/x-gtar", "application/x-compressed-tar", "application/x-tar+gzip":
		return FormatTarGz
	default:
		return ""
	}
}
