package main

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// writeConfig writes a YAML config file into a temp dir and returns its path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "attune.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	return path
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	const file = `
listen: 0.0.0.0:9000
data_dir: /srv/attune
shutdown_timeout: 5s
roles: [api]
cors:
  allowed_origins: [https://ui.example]
graphql:
  playground: false
  max_depth: 5
log:
  format: json
`
	fromFile := func(c *Config) {
		c.Listen = "0.0.0.0:9000"
		c.DataDir = "/srv/attune"
		c.ShutdownTimeout = 5 * time.Second
		c.Roles = []string{"api"}
		c.CORS.AllowedOrigins = []string{"https://ui.example"}
		c.GraphQL.Playground = false
		c.GraphQL.MaxDepth = 5
		c.Log.Format = "json"
	}
	tests := []struct {
		name    string
		yaml    string // no file when empty
		env     []string
		want    func(*Config) // applied to DefaultConfig
		wantErr string
	}{
		{name: "defaults", want: func(*Config) {}},
		{name: "comment-only file", yaml: "# nothing set\n", want: func(*Config) {}},
		{name: "file", yaml: file, want: fromFile},
		{
			name: "environment beats file",
			yaml: file,
			env: []string{
				"ATTUNE_LISTEN=127.0.0.1:9001",
				"ATTUNE_SHUTDOWN_TIMEOUT=2s",
				"ATTUNE_ROLES=api, worker",
				"ATTUNE_CORS_ALLOWED_ORIGINS=https://a.example,https://b.example",
				"ATTUNE_GRAPHQL_PLAYGROUND=true",
				"ATTUNE_GRAPHQL_MAX_DEPTH=7",
				"ATTUNE_GRAPHQL_MAX_BODY_BYTES=2048",
				"ATTUNE_LOG_LEVEL=debug",
				"LISTEN=ignored:1",
				"ATTUNE_UNRELATED=ignored",
			},
			want: func(c *Config) {
				fromFile(c)
				c.Listen = "127.0.0.1:9001"
				c.ShutdownTimeout = 2 * time.Second
				c.Roles = []string{"api", "worker"}
				c.CORS.AllowedOrigins = []string{"https://a.example", "https://b.example"}
				c.GraphQL.Playground = true
				c.GraphQL.MaxDepth = 7
				c.GraphQL.MaxBodyBytes = 2048
				c.Log.Level = "debug"
			},
		},
		{name: "unknown key", yaml: "colour: blue\n", wantErr: "field colour not found"},
		{name: "unknown nested key", yaml: "graphql:\n  max_dept: 3\n", wantErr: "field max_dept not found"},
		{name: "wrong type in file", yaml: "graphql:\n  max_depth: deep\n", wantErr: "cannot unmarshal"},
		{name: "bad integer variable", env: []string{"ATTUNE_GRAPHQL_MAX_DEPTH=deep"}, wantErr: "environment ATTUNE_GRAPHQL_MAX_DEPTH"},
		{name: "bad duration variable", env: []string{"ATTUNE_SHUTDOWN_TIMEOUT=soon"}, wantErr: "environment ATTUNE_SHUTDOWN_TIMEOUT"},
		{name: "bad boolean variable", env: []string{"ATTUNE_GRAPHQL_INTROSPECTION=maybe"}, wantErr: "environment ATTUNE_GRAPHQL_INTROSPECTION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := ""
			if tt.yaml != "" {
				path = writeConfig(t, tt.yaml)
			}
			got, err := LoadConfig(path, tt.env)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			want := DefaultConfig()
			tt.want(&want)
			require.Equal(t, want, got)
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig(filepath.Join(t.TempDir(), "absent.yaml"), nil)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	require.NoError(t, err)
	tests := []struct {
		name         string
		change       func(*Config)
		wantErr      string
		wantPacksDir string
	}{
		{name: "defaults", change: func(*Config) {}, wantPacksDir: filepath.Join(wd, "data", "packs")},
		{name: "relative packs dir", change: func(c *Config) { c.PacksDir = "p" }, wantPacksDir: filepath.Join(wd, "p")},
		{name: "packs dir kept", change: func(c *Config) { c.PacksDir = "/srv/packs" }, wantPacksDir: "/srv/packs"},
		{name: "unknown role", change: func(c *Config) { c.Roles = []string{"api", "foo"} }, wantErr: `roles: unknown role "foo"`},
		{name: "no roles", change: func(c *Config) { c.Roles = nil }, wantErr: "roles: at least one"},
		{name: "listen without port", change: func(c *Config) { c.Listen = "8080" }, wantErr: `listen "8080"`},
		{name: "log format", change: func(c *Config) { c.Log.Format = "xml" }, wantErr: `log.format "xml"`},
		{name: "ssh host key policy", change: func(c *Config) { c.Worker.SSH.HostKeyPolicy = "yes" }, wantErr: `worker.ssh.host_key_policy "yes"`},
		{name: "ssh connect timeout", change: func(c *Config) { c.Worker.SSH.ConnectTimeout = 0 }, wantErr: "worker.ssh.connect_timeout"},
		{name: "metrics listen without port", change: func(c *Config) { c.Metrics.Listen = "9464" }, wantErr: `metrics.listen "9464"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantPacksDir, cfg.PacksDir)
			require.Equal(t, filepath.Join(wd, "data", "ssh", "known_hosts"), cfg.Worker.SSH.KnownHosts)
		})
	}
}

// TestMetricsListen: a bare port listens on loopback, a host is kept.
func TestMetricsListen(t *testing.T) {
	t.Parallel()
	for listen, want := range map[string]string{"": "", ":9464": "127.0.0.1:9464", "0.0.0.0:9464": "0.0.0.0:9464", "[::1]:9": "[::1]:9"} {
		cfg := DefaultConfig()
		cfg.Metrics.Listen = listen
		require.NoError(t, cfg.Validate())
		require.Equal(t, want, cfg.Metrics.Listen, listen)
	}
}

// TestConfigPathsBecomeAbsolute: relative paths in the config file are
// relative to the file, the others (defaults, environment, flags) to the
// working directory, and after Validate none is relative.
func TestConfigPathsBecomeAbsolute(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	require.NoError(t, err)
	path := writeConfig(t, `
data_dir: d
database_url: sqlite://db/attune.db?_pragma=x
packs:
  envs_dir: ../envs
  allowed_source_dirs: [src, /abs/src]
  python: venv/bin/python
  npm: npm
graphql:
  persisted_queries_file: pq.json
`)
	dir := filepath.Dir(path)
	cfg, err := LoadConfig(path, []string{"ATTUNE_PACKS_DIR=p"})
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.Equal(t, filepath.Join(dir, "d"), cfg.DataDir)
	require.Equal(t, "sqlite://"+filepath.Join(dir, "db", "attune.db")+"?_pragma=x", cfg.DatabaseURL)
	require.Equal(t, filepath.Join(filepath.Dir(dir), "envs"), cfg.Packs.EnvsDir)
	require.Equal(t, []string{filepath.Join(dir, "src"), "/abs/src"}, cfg.Packs.AllowedSourceDirs)
	require.Equal(t, filepath.Join(dir, "venv", "bin", "python"), cfg.Packs.Python)
	require.Equal(t, "npm", cfg.Packs.Npm, "a name, looked up in PATH")
	require.Equal(t, filepath.Join(dir, "pq.json"), cfg.GraphQL.PersistedQueriesFile)
	require.Equal(t, filepath.Join(wd, "p"), cfg.PacksDir, "from the environment: the working directory")

	cfg, err = LoadConfig(writeConfig(t, "listen: 127.0.0.1:9000\n"), nil)
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	require.Equal(t, filepath.Join(wd, "data"), cfg.DataDir, "a default, not set by the file")
	require.Equal(t, filepath.Join(wd, "data", "envs"), cfg.Packs.EnvsDir)
	require.Empty(t, cfg.DatabaseURL, "empty: <data_dir>/attune.db")
	require.Empty(t, cfg.GraphQL.PersistedQueriesFile)
	require.Equal(t, "python3", cfg.Packs.Python)
}

func TestAbsDatabaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"attune.db", "/base/attune.db"},
		{"data/attune.db?_pragma=x", "/base/data/attune.db?_pragma=x"},
		{"/srv/attune.db", "/srv/attune.db"},
		{"sqlite://attune.db", "sqlite:///base/attune.db"},
		{"sqlite:///srv/attune.db", "sqlite:///srv/attune.db"},
		{"file:attune.db?mode=rwc", "file:/base/attune.db?mode=rwc"},
		{":memory:", ":memory:"},
		{"postgres://u@db/attune?sslmode=disable", "postgres://u@db/attune?sslmode=disable"},
		{"postgresql://u@db/attune", "postgresql://u@db/attune"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, absDatabaseURL("/base", tt.in), tt.in)
	}
}

// TestFlagBeatsEnvironmentBeatsFile runs `attune migrate` with the data
// directory set in up to three places and reads which one the process used
// from its log.
func TestFlagBeatsEnvironmentBeatsFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		byEnv  bool // pass the file as ATTUNE_CONFIG instead of -config
		setEnv bool
		flag   bool
		want   string // which directory wins: file, env or flag
	}{
		{name: "file", want: "file"},
		{name: "file named by ATTUNE_CONFIG", byEnv: true, want: "file"},
		{name: "environment beats file", setEnv: true, want: "env"},
		{name: "flag beats environment", setEnv: true, flag: true, want: "flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dirs := map[string]string{"file": t.TempDir(), "env": t.TempDir(), "flag": t.TempDir()}
			path := writeConfig(t, "data_dir: "+dirs["file"]+"\n")
			var env, args []string
			args = append(args, "migrate")
			if tt.byEnv {
				env = append(env, "ATTUNE_CONFIG="+path)
			} else {
				args = append(args, "-config", path)
			}
			if tt.setEnv {
				env = append(env, "ATTUNE_DATA_DIR="+dirs["env"])
			}
			if tt.flag {
				args = append(args, "-data-dir", dirs["flag"])
			}
			code, out := runAttune(t, env, args...)
			require.Equal(t, 0, code, out)
			require.Contains(t, out, "location="+filepath.Join(dirs[tt.want], "attune.db")+"\n")
			require.FileExists(t, filepath.Join(dirs[tt.want], "attune.db"))
		})
	}
}

// TestREADMEDocumentsEveryKey keeps the README's configuration table true:
// every YAML key of Config must appear in it.
func TestREADMEDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	var keys []string
	var walk func(rt reflect.Type, prefix string)
	walk = func(rt reflect.Type, prefix string) {
		for i := range rt.NumField() {
			f := rt.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "" || key == "-" {
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
				walk(f.Type, prefix+key+".")
				continue
			}
			keys = append(keys, prefix+key)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	require.NotEmpty(t, keys)
	for _, k := range keys {
		require.Contains(t, string(readme), "| `"+k+"` |", "README's configuration table lacks %s", k)
	}
}

// The server collects at gcPercent unless GOGC is set. Not parallel: the
// GC percentage is the process's.
func TestDefaultGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	defaultGC("")
	require.Equal(t, gcPercent, debug.SetGCPercent(100))
	defaultGC("50")
	require.Equal(t, 100, debug.SetGCPercent(100), "GOGC set: left alone")
}
