package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// DefaultURL is where `make run` serves.
const DefaultURL = "http://127.0.0.1:8080"

// fileConfig is $XDG_CONFIG_HOME/attune/config.yaml, written by login.
type fileConfig struct {
	URL   string `yaml:"url"`
	Token string `yaml:"token,omitempty"`
}

// configPath is the user's config file: $XDG_CONFIG_HOME/attune/config.yaml,
// ~/.config/attune/config.yaml without it.
func (a *app) configPath() (string, error) {
	dir := a.env["XDG_CONFIG_HOME"]
	if dir == "" {
		home := a.env["HOME"]
		if home == "" {
			return "", errors.New("neither XDG_CONFIG_HOME nor HOME is set")
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "attune", "config.yaml"), nil
}

func (a *app) readConfig() (fileConfig, error) {
	var c fileConfig
	path, err := a.configPath()
	if err != nil {
		return c, nil
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := yaml.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func (a *app) writeConfig(c fileConfig) (string, error) {
	path, err := a.configPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	raw, err := yaml.Marshal(c)
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// target is the server and token a command talks to, and where each came
// from (for whoami and error messages).
type target struct {
	url, token         string
	urlFrom, tokenFrom string
}

// resolve picks the server and token: flags, then ATTUNE_URL/ATTUNE_TOKEN,
// then the config file, then a local `make run` server (its URL and the
// admin token it wrote to ./data/admin-token).
func (a *app) resolve() (target, error) {
	var t target
	cfg, err := a.readConfig()
	if err != nil {
		return t, err
	}
	switch {
	case a.url != "":
		t.url, t.urlFrom = a.url, "--url"
	case a.env["ATTUNE_URL"] != "":
		t.url, t.urlFrom = a.env["ATTUNE_URL"], "ATTUNE_URL"
	case cfg.URL != "":
		t.url, t.urlFrom = cfg.URL, "config"
	default:
		t.url, t.urlFrom = DefaultURL, "default"
	}
	t.url = strings.TrimSuffix(strings.TrimSuffix(t.url, "/"), "/graphql")
	switch {
	case a.token != "":
		t.token, t.tokenFrom = a.token, "--token"
	case a.tokenFile != "":
		raw, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return t, usageErr("--token-file: %v", err)
		}
		t.token, t.tokenFrom = strings.TrimSpace(string(raw)), a.tokenFile
	case a.env["ATTUNE_TOKEN"] != "":
		t.token, t.tokenFrom = a.env["ATTUNE_TOKEN"], "ATTUNE_TOKEN"
	case cfg.Token != "" && (t.urlFrom == "config" || strings.TrimSuffix(cfg.URL, "/") == t.url):
		// The stored token goes only to the stored server.
		t.token, t.tokenFrom = cfg.Token, "config"
	default:
		// A local make run server: its data directory is ./data (or
		// ATTUNE_DATA_DIR), where the first start wrote the admin token.
		dir := a.env["ATTUNE_DATA_DIR"]
		if dir == "" {
			dir = "data"
		}
		path := filepath.Join(dir, "admin-token")
		if raw, err := os.ReadFile(path); err == nil {
			t.token, t.tokenFrom = strings.TrimSpace(string(raw)), path
		}
	}
	return t, nil
}
