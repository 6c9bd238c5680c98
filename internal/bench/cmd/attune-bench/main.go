// Command attune-bench builds the attune binary, measures it end to end on
// SQLite and PostgreSQL with internal/bench, prints the table and, with
// -out, writes the report (keeping the hand-written notes of the previous
// one). make bench and make bench-smoke run it.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	_ "github.com/lib/pq" // PostgreSQL reachability check

	"github.com/attune-io/attune/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "attune-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	smoke := flag.Bool("smoke", false, "tiny sizes: keeps the program working, measures nothing worth publishing")
	out := flag.String("out", "", "write the Markdown report here (e.g. docs/BENCHMARKS.md)")
	pgURL := flag.String("postgres", envOr("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"PostgreSQL server the run makes its schemas in; empty skips PostgreSQL")
	requirePG := flag.Bool("require-postgres", os.Getenv("CI") == "true", "fail instead of skipping an unreachable PostgreSQL")
	concurrency := flag.Int("worker-concurrency", 0, "the servers' worker.concurrency (0: the default)")
	only := flag.String("only", "", "comma-separated figure groups to measure ("+strings.Join(bench.Groups, ", ")+"); empty measures all. Use without -out: the report would hold only these")
	profileDir := flag.String("pprof", "", "write CPU profiles of the server during the load figures to this directory")
	repo := flag.String("repo", ".", "repository root (for ./server and examples/packs/python_example)")
	noSQLite := flag.Bool("skip-sqlite", false, "measure PostgreSQL only (with -only, for quick A/B runs; not with -out)")
	prebuilt := flag.String("bin", "", "measure this attune binary instead of building ./server (for A/B runs of two builds)")
	flag.Parse()
	var groups []string
	if *only != "" {
		groups = strings.Split(*only, ",")
		for _, g := range groups {
			if !slices.Contains(bench.Groups, g) {
				return fmt.Errorf("-only: unknown figure group %q (want %s)", g, strings.Join(bench.Groups, ", "))
			}
		}
	}
	if *noSQLite && *out != "" {
		return fmt.Errorf("-skip-sqlite: the report would hold no SQLite figures")
	}
	root, err := filepath.Abs(*repo)
	if err != nil {
		return fmt.Errorf("resolving -repo: %w", err)
	}

	tmp, err := os.MkdirTemp("", "attune-bench-bin-")
	if err != nil {
		return fmt.Errorf("creating build dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	bin := *prebuilt
	if bin == "" {
		bin = filepath.Join(tmp, "attune")
		// attune-sandbox beside it, as make build installs them: the
		// launcher each action starts through.
		for _, args := range [][]string{
			{"build", "-o", bin, "./server"},
			{"build", "-o", filepath.Join(tmp, "attune-sandbox"), "./internal/sandbox/cmd/attune-sandbox"},
		} {
			build := exec.CommandContext(ctx, "go", args...)
			build.Dir = root
			if b, err := build.CombinedOutput(); err != nil {
				return fmt.Errorf("building attune: %w\n%s", err, b)
			}
		}
	}
	if *pgURL != "" {
		if err := ping(ctx, *pgURL); err != nil {
			if *requirePG {
				return fmt.Errorf("PostgreSQL at %s: %w", *pgURL, err)
			}
			fmt.Fprintf(os.Stderr, "SKIPPING POSTGRESQL: %s is not reachable (%v)\n", *pgURL, err)
			*pgURL = ""
		}
	}
	if *noSQLite && *pgURL == "" {
		return fmt.Errorf("-skip-sqlite: no PostgreSQL to measure either")
	}
	sizes := bench.Full
	if *smoke {
		sizes = bench.Smoke
	}
	report, err := bench.Run(ctx, bench.Config{
		Bin:               bin,
		PythonPack:        filepath.Join(root, "examples", "packs", "python_example"),
		PostgresURL:       *pgURL,
		WorkerConcurrency: *concurrency,
		Sizes:             sizes,
		Only:              groups,
		SkipSQLite:        *noSQLite,
		ProfileDir:        *profileDir,
		Log:               os.Stderr,
	})
	if err != nil {
		return err
	}
	if err := report.WriteTable(os.Stdout); err != nil {
		return err
	}
	if *out == "" {
		return nil
	}
	old, err := os.ReadFile(*out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", *out, err)
	}
	if err := os.WriteFile(*out, report.Markdown(bench.Notes(old)), 0o644); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	fmt.Fprintln(os.Stderr, "wrote", *out)
	return nil
}

func ping(ctx context.Context, url string) error {
	db, err := sql.Open("postgres", url)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
