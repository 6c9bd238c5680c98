package fetch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Fetch copies the files of src into dst, an existing empty directory, as a
// plain tree of regular files (executable bit kept) and directories. Local
// sources must lie inside lim.AllowedDirs when it is set.
//
// Returns NOT_FOUND when a local path, URL (HTTP 404 or 410) or git ref does
// not exist, and BAD_USER_INPUT for unsafe or oversized content, paths
// outside lim.AllowedDirs, and downloads or clones that fail or time out.
// Other errors are internal. The caller removes dst on error.
func Fetch(ctx context.Context, src Source, dst string, lim Limits) error {
	lim = lim.withDefaults()
	switch src.Kind {
	case KindDir:
		p, err := allowLocal(src.Location, lim)
		if err != nil {
			return err
		}
		return fetchDir(ctx, p, dst, lim)
	case KindArchive:
		p, err := allowLocal(src.Location, lim)
		if err != nil {
			return err
		}
		return fetchArchive(p, FormatOf(src.Location), dst, lim)
	case KindURL:
		return download(ctx, src.Location, dst, lim)
	case KindGit:
		return fetchGit(ctx, src, dst, lim)
	default:
		return badInput("unknown source kind %q", src.Kind)
	}
}

func fetchArchive(p, format, dst string, lim Limits) error {
	f, err := os.Open(p)
	if err != nil {
		return badInput("cannot open archive %s: %v", p, err)
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return badInput("cannot open archive %s: %v", p, err)
	}
	if !fi.Mode().IsRegular() {
		return badInput("archive %s is not a regular file", p)
	}
	return Extract(f, format, fi.Size(), dst, lim)
}

// transferErr picks the error to report for a network transfer run under
// ctx, derived from parent with the given timeout: the parent's
// cancellation is internal, our own timeout is the source's fault. what
// prefixes the message.
func transferErr(parent, ctx context.Context, what string, timeout time.Duration, err error) error {
	switch {
	case err == nil:
		return nil
	case parent.Err() != nil:
		return fmt.Errorf("%s: %w", what, parent.Err())
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return badInput("%s: timed out after %s", what, timeout)
	}
	if fe, ok := errors.AsType[*Error](err); ok {
		return &Error{Code: fe.Code, Message: what + ": " + fe.Message}
	}
	return fmt.Errorf("%s: %w", what, err)
}
