// Command attune is the whole platform in one binary: the GraphQL API, the
// workers that run actions, sensors and timers, chosen by roles. Any number
// of processes can share one PostgreSQL; the default runs everything in one
// process on an embedded SQLite file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/attune-io/attune/internal/cli"
	"github.com/attune-io/attune/internal/sandbox"
)

func main() {
	// Before anything else: the binary re-executed as an action's
	// sandbox launcher never returns from here.
	sandbox.Launch(os.Args)
	env := shedSecrets()
	defaultGC(os.Getenv("GOGC"))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// gcPercent is the heap growth that starts a collection unless GOGC says
// otherwise. The server allocates per GraphQL field and per row; at Go's
// default of 100 the collector took a fifth of its CPU serving a page of
// 100 executions. At 200 it runs half as often (page p50 5.3 -> 4.5 ms,
// p99 13 -> 10 ms) for a heap that stays far below the memory goals
// (75 MiB resident at full load).
const gcPercent = 200

// defaultGC sets gcPercent when the GOGC environment variable is unset.
func defaultGC(gogc string) {
	if gogc == "" {
		debug.SetGCPercent(gcPercent)
	}
}

const usage = `attune: event-driven automation over GraphQL

Usage:
  attune [serve] [flags]   run the server (default)
  attune migrate [flags]   apply pending database migrations and exit
  attune COMMAND ...       the command line client: login, run, action,
                           execution, pack, key, token, rule, trigger, event,
                           webhook, audit, completion ('attune run --help')

Flags:
`

// run is main without the process globals, so tests can drive it.
func run(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && cli.IsCommand(args[0]) {
		return cli.Main(ctx, args, env, os.Stdin, stdout, stderr)
	}
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("attune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	configPath := fs.String("config", envValue(env, "ATTUNE_CONFIG"), "YAML config file (env ATTUNE_CONFIG)")
	listen := fs.String("listen", "", "HTTP listen address (overrides config)")
	dbURL := fs.String("database-url", "", "postgres:// URL or SQLite file (overrides config)")
	dataDir := fs.String("data-dir", "", "data directory (overrides config)")
	roles := fs.String("roles", "", "comma-separated roles: api,worker,sensor,timers (overrides config)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg, err := LoadConfig(*configPath, env)
	if err != nil {
		fmt.Fprintln(stderr, "attune:", err)
		return 2
	}
	override(&cfg.Listen, *listen)
	override(&cfg.DatabaseURL, *dbURL)
	override(&cfg.DataDir, *dataDir)
	if *roles != "" {
		cfg.Roles = splitList(*roles)
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "attune: config:", err)
		return 2
	}
	log := newLogger(cfg.Log, stdout)
	switch cmd {
	case "serve":
		err = serve(ctx, cfg, log)
	case "migrate":
		err = migrateOnly(ctx, cfg, log)
	default:
		fmt.Fprintf(stderr, "attune: unknown command %q\n", cmd)
		fs.Usage()
		return 2
	}
	if err != nil {
		log.Error("attune stopped", "error", err)
		return 1
	}
	return 0
}

func override(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
