package queue

import (
	"context"
	"log/slog"
	"strings"
)

// noListenerNotice is how River announces a driver without LISTEN (its
// SQLite driver) at every start.
const noListenerNotice = "does not support listener; entering poll only mode"

// quietLogger passes River's logs to log, except that River's notice of a
// driver without a listener is lowered to debug: on SQLite the queue runs
// without one by design (see wakeGate) and says so in its own words, and
// at info the notice read like a fault at every start.
func quietLogger(log *slog.Logger) *slog.Logger {
	if log == nil {
		return nil // River's default
	}
	return slog.New(quietHandler{log.Handler()})
}

type quietHandler struct{ slog.Handler }

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level > slog.LevelDebug && strings.Contains(r.Message, noListenerNotice) {
		if !h.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(attrs)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name)}
}
