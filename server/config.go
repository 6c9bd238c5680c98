package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/attune-io/attune/graph"
	"github.com/attune-io/attune/internal/manifest"
)

// Config is every setting of the server. Each key can be set in the YAML
// file, overridden by an environment variable ATTUNE_<SECTION>_<KEY>
// (upper case, dots become underscores, e.g. ATTUNE_GRAPHQL_MAX_DEPTH), and
// the most common ones by flags. README.md lists them all.
type Config struct {
	// Listen is the HTTP address.
	Listen string `yaml:"listen"`
	// DataDir holds the SQLite file, installed packs and temp dirs.
	DataDir string `yaml:"data_dir"`
	// DatabaseURL selects PostgreSQL (postgres://...) or a SQLite file path;
	// empty means <data_dir>/attune.db.
	DatabaseURL string `yaml:"database_url"`
	// DatabaseMaxConns bounds this node's pool of PostgreSQL connections
	// (ATTUNE_DATABASE_MAX_CONNS); 0 keeps the default, 40. SQLite has
	// one writer and a reader pool of its own, whatever this says.
	DatabaseMaxConns int `yaml:"database_max_conns"`
	// PacksDir is where installed packs live; empty means <data_dir>/packs.
	PacksDir string `yaml:"packs_dir"`
	// Roles this process plays: api, worker, sensor, timers.
	Roles []string `yaml:"roles"`
	// ShutdownTimeout bounds a graceful stop.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`

	// AdminToken (ATTUNE_ADMIN_TOKEN) is registered as an admin token at
	// start, for automation; without it the first start creates one.
	AdminToken string `yaml:"admin_token"`
	// EncryptionKey (ATTUNE_ENCRYPTION_KEY) encrypts secret keys at rest:
	// 32 bytes as 64 hex digits or base64.
	EncryptionKey string `yaml:"encryption_key"`

	Auth    AuthConfig    `yaml:"auth"`
	Packs   PacksConfig   `yaml:"packs"`
	Worker  WorkerConfig  `yaml:"worker"`
	Events  EventsConfig  `yaml:"events"`
	CORS    CORSConfig    `yaml:"cors"`
	GraphQL GraphQLConfig `yaml:"graphql"`
	Log     LogConfig     `yaml:"log"`
	Debug   DebugConfig   `yaml:"debug"`
	Metrics MetricsConfig `yaml:"metrics"`
}

// PacksConfig bounds pack installs and says how environments are built.
type PacksConfig struct {
	// EnvsDir holds Python virtualenvs; empty means <data_dir>/envs.
	EnvsDir string `yaml:"envs_dir"`
	// AllowedSourceDirs, if set, limits local-path sources to these dirs.
	AllowedSourceDirs []string `yaml:"allowed_source_dirs"`
	// MaxBytes caps a pack's unpacked size; MaxFiles its file count.
	MaxBytes int64 `yaml:"max_bytes"`
	MaxFiles int   `yaml:"max_files"`
	// MaxManifestBytes caps each YAML file of a pack (pack.yaml and every
	// component), checked before it is decoded.
	MaxManifestBytes int64 `yaml:"max_manifest_bytes"`
	// DownloadTimeout and GitTimeout bound fetching from URLs and git.
	DownloadTimeout time.Duration `yaml:"download_timeout"`
	GitTimeout      time.Duration `yaml:"git_timeout"`
	// EnvTimeout bounds building one environment (venv + pip, npm install).
	EnvTimeout time.Duration `yaml:"env_timeout"`
	// SweepInterval is how often each node removes the pack versions no
	// pack and no active execution points at, from the database and its
	// own packs_dir and envs_dir.
	SweepInterval time.Duration `yaml:"sweep_interval"`
	// Python is the base interpreter that creates venvs and runs pip.
	Python string `yaml:"python"`
	// Npm is the npm used for Node packs.
	Npm string `yaml:"npm"`
}

// CORSConfig lists the browser origins allowed to call the API.
type CORSConfig struct {
	// AllowedOrigins are origins such as "http://localhost:5173"; one "*"
	// wildcard is allowed inside an entry. Credentials are allowed only for
	// listed origins, never for a bare "*".
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// GraphQLConfig sets the API's guard rails and developer features.
type GraphQLConfig struct {
	Playground    bool `yaml:"playground"`
	Introspection bool `yaml:"introspection"`
	MaxComplexity int  `yaml:"max_complexity"`
	MaxDepth      int  `yaml:"max_depth"`
	// Bounds of a document, checked before it is validated (see
	// graph.DocumentLimits), and of a where filter.
	MaxTokens           int   `yaml:"max_tokens"`
	MaxFields           int   `yaml:"max_fields"`
	MaxFragmentSpreads  int   `yaml:"max_fragment_spreads"`
	MaxDirectives       int   `yaml:"max_directives"`
	MaxFilterPredicates int   `yaml:"max_filter_predicates"`
	MaxBodyBytes        int64 `yaml:"max_body_bytes"`
	MaxUploadBytes      int64 `yaml:"max_upload_bytes"`
	// PersistedQueriesFile, when set, is a JSON list of GraphQL documents
	// or an Apollo persisted-query manifest: the only operations the server
	// accepts (by their SHA-256 or id, as Apollo's persisted-query link
	// sends them, or by their text).
	PersistedQueriesFile string `yaml:"persisted_queries_file"`
}

// LogConfig sets the structured log output.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// DefaultConfig is what a bare `attune` runs with.
func DefaultConfig() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		DataDir:         "data",
		Roles:           []string{"api", "worker", "sensor", "timers"},
		ShutdownTimeout: 30 * time.Second,
		Packs: PacksConfig{
			MaxBytes:         100 << 20,
			MaxFiles:         10000,
			MaxManifestBytes: manifest.DefaultMaxFileBytes,
			DownloadTimeout:  time.Minute,
			GitTimeout:       2 * time.Minute,
			EnvTimeout:       10 * time.Minute,
			SweepInterval:    time.Minute,
			Python:           "python3",
			Npm:              "npm",
		},
		Auth:   AuthConfig{Enabled: true},
		Worker: defaultWorkerConfig(),
		Events: defaultEventsConfig(),
		CORS: CORSConfig{AllowedOrigins: []string{
			"http://localhost:*", "http://127.0.0.1:*",
		}},
		GraphQL: GraphQLConfig{
			Playground:          true,
			Introspection:       true,
			MaxComplexity:       250_000,
			MaxDepth:            graph.DefaultMaxDepth,
			MaxTokens:           graph.DefaultMaxTokens,
			MaxFields:           graph.DefaultMaxFields,
			MaxFragmentSpreads:  graph.DefaultMaxFragmentSpreads,
			MaxDirectives:       graph.DefaultMaxDirectives,
			MaxFilterPredicates: graph.DefaultMaxFilterPredicates,
			MaxBodyBytes:        1 << 20,
			MaxUploadBytes:      100 << 20,
		},
		Log: LogConfig{Level: "info", Format: "text"},
	}
}

// LoadConfig reads the YAML file (if path is not empty), then applies
// ATTUNE_* environment overrides from env.
func LoadConfig(path string, env []string) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("reading config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		// io.EOF: an empty or comment-only file sets nothing.
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
		// Paths written in the file mean the same wherever the server is
		// started from: relative ones are relative to the file. The
		// defaults stay relative to the working directory.
		var set Config
		_ = yaml.Unmarshal(b, &set) // decoded above: only to see what the file sets
		abs, err := filepath.Abs(path)
		if err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
		cfg.absPaths(filepath.Dir(abs), &set)
	}
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "ATTUNE_") {
			vars[k] = v
		}
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), "ATTUNE", vars); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// applyEnv walks the struct by yaml keys and sets fields from vars.
func applyEnv(v reflect.Value, prefix string, vars map[string]string) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" || key == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(key)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
			if err := applyEnv(fv, name, vars); err != nil {
				return err
			}
			continue
		}
		raw, ok := vars[name]
		if !ok {
			continue
		}
		if err := setValue(fv, raw); err != nil {
			return fmt.Errorf("environment %s: %w", name, err)
		}
	}
	return nil
}

func setValue(fv reflect.Value, raw string) error {
	switch fv.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		fv.SetInt(int64(d))
	case string:
		fv.SetString(raw)
	case bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case int, int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return err
		}
		fv.SetInt(n)
	case []string:
		fv.Set(reflect.ValueOf(splitList(raw)))
	default:
		return fmt.Errorf("unsupported type %s", fv.Type())
	}
	return nil
}

// splitList reads a comma-separated list, ignoring blanks around items.
func splitList(raw string) []string {
	var list []string
	for _, s := range strings.Split(raw, ",") {
		if s = strings.TrimSpace(s); s != "" {
			list = append(list, s)
		}
	}
	return list
}

// Validate checks the settings, fills derived defaults and makes every
// path absolute: the ones still relative (defaults, environment, flags) are
// relative to the working directory. Nothing downstream sees a relative
// path, so a child process started in its pack directory finds the files
// the worker wrote for it.
func (c *Config) Validate() error {
	if c.PacksDir == "" {
		c.PacksDir = filepath.Join(c.DataDir, "packs")
	}
	if c.Packs.EnvsDir == "" {
		c.Packs.EnvsDir = filepath.Join(c.DataDir, "envs")
	}
	if c.Worker.SSH.KnownHosts == "" {
		c.Worker.SSH.KnownHosts = filepath.Join(c.DataDir, "ssh", "known_hosts")
	}
	wd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("resolving relative paths: %w", err)
	}
	c.absPaths(wd, nil)
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen %q: %w", c.Listen, err)
	}
	known := map[string]bool{"api": true, "worker": true, "sensor": true, "timers": true}
	if len(c.Roles) == 0 {
		return fmt.Errorf("roles: at least one of api, worker, sensor, timers")
	}
	for _, r := range c.Roles {
		if !known[r] {
			return fmt.Errorf("roles: unknown role %q (want api, worker, sensor, timers)", r)
		}
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format %q: want text or json", c.Log.Format)
	}
	if c.Packs.SweepInterval <= 0 {
		return fmt.Errorf("packs.sweep_interval %s: must be positive", c.Packs.SweepInterval)
	}
	if err := c.Auth.validate(c.Listen); err != nil {
		return err
	}
	if err := c.Debug.validate(c.Listen); err != nil {
		return err
	}
	if err := c.Events.validate(); err != nil {
		return err
	}
	if err := c.Metrics.validate(); err != nil {
		return err
	}
	return c.Worker.validate()
}

// HasRole reports whether this process plays role.
func (c *Config) HasRole(role string) bool {
	for _, r := range c.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// absPaths makes every relative path setting absolute against base: the
// directories, a SQLite database_url, the persisted queries file, and the
// interpreters when given as a path rather than a name looked up in PATH.
// When only is not nil, just the settings only has set are changed.
func (c *Config) absPaths(base string, only *Config) {
	if only == nil {
		only = c
	}
	paths := []struct{ dst, set *string }{
		{&c.DataDir, &only.DataDir},
		{&c.PacksDir, &only.PacksDir},
		{&c.Packs.EnvsDir, &only.Packs.EnvsDir},
		{&c.GraphQL.PersistedQueriesFile, &only.GraphQL.PersistedQueriesFile},
		{&c.Worker.SSH.KnownHosts, &only.Worker.SSH.KnownHosts},
		{&c.Worker.SSH.KeyFile, &only.Worker.SSH.KeyFile},
	}
	for _, p := range paths {
		if *p.set != "" {
			*p.dst = absPath(base, *p.dst)
		}
	}
	if len(only.Packs.AllowedSourceDirs) > 0 {
		for i, dir := range c.Packs.AllowedSourceDirs {
			c.Packs.AllowedSourceDirs[i] = absPath(base, dir)
		}
	}
	// Interpreters: a name is looked up in PATH, a path is a file.
	for _, p := range []struct{ dst, set *string }{{&c.Packs.Python, &only.Packs.Python}, {&c.Packs.Npm, &only.Packs.Npm}} {
		if *p.set != "" && strings.ContainsRune(*p.dst, filepath.Separator) {
			*p.dst = absPath(base, *p.dst)
		}
	}
	if only.DatabaseURL != "" {
		c.DatabaseURL = absDatabaseURL(base, c.DatabaseURL)
	}
}

// absPath joins a relative path to base; empty and absolute paths are kept.
func absPath(base, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(base, path)
}

// absDatabaseURL makes the file of a SQLite database_url (path,
// sqlite://path or file:path, with an optional ?query) absolute, keeping
// its form; PostgreSQL URLs, in-memory names (":memory:") and other URLs
// are kept.
func absDatabaseURL(base, u string) string {
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		return u
	}
	rest, scheme := u, ""
	for _, p := range []string{"sqlite://", "file:"} {
		if strings.HasPrefix(u, p) {
			rest, scheme = u[len(p):], p
			break
		}
	}
	path, query, hasQuery := strings.Cut(rest, "?")
	if path == "" || strings.HasPrefix(path, ":") || strings.Contains(path, "://") {
		return u
	}
	out := scheme + absPath(base, path)
	if hasQuery {
		out += "?" + query
	}
	return out
}
