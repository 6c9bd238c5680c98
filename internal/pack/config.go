package pack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/internal/manifest"
	"github.com/attune-io/attune/internal/packconfig"
	"github.com/attune-io/attune/internal/param"
)

// Config returns pack ref's config as actions (self.config,
// config_context), sensors and rule templates see it: secrets decrypted,
// schema defaults applied. NOT_FOUND for a pack not installed.
func (s *Service) Config(ctx context.Context, ref string) (map[string]any, error) {
	return s.configs.Config(ctx, ref)
}

// SetConfig replaces pack ref's config (with merge, changes the fields
// config gives) after checking it against the pack's config.schema.yaml:
// BAD_USER_INPUT lists every field that does not fit; NOT_FOUND for a pack
// not installed.
func (s *Service) SetConfig(ctx context.Context, ref string, config map[string]any, merge bool) (*ent.Pack, error) {
	return s.configs.Set(ctx, ref, config, merge)
}

// DisplayConfig is the config a client reads: secrets in clear only when
// reveal (an ADMIN asks), masked otherwise.
func (s *Service) DisplayConfig(p *ent.Pack, reveal bool) (map[string]any, error) {
	return s.configs.Display(p, reveal)
}

// Configs is the config store, for the services that run pack code.
func (s *Service) Configs() *packconfig.Store { return s.configs }

// configsDir is where operators put configs/<pack>.yaml: beside the packs
// directory, as StackStorm keeps /opt/stackstorm/configs beside
// /opt/stackstorm/packs.
func (s *Service) configsDir() string {
	if s.cfg.ConfigsDir != "" {
		return s.cfg.ConfigsDir
	}
	return filepath.Join(filepath.Dir(s.cfg.PacksDir), "configs")
}

// operatorFile is configs/<pack>.yaml as an install read it.
type operatorFile struct {
	config   map[string]any
	checksum string // sha256 of the file's bytes
}

// configFile reads and checks configs/<pack>.yaml; no file is nil. Its
// problems name the file as configs/<pack>.yaml.
func (s *Service) configFile(m *manifest.Pack) (*operatorFile, []manifest.Problem) {
	name := "configs/" + m.Ref + ".yaml"
	path := filepath.Join(s.configsDir(), m.Ref+".yaml")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	problem := func(field, msg string) []manifest.Problem {
		return []manifest.Problem{{File: name, Field: field, Message: msg}}
	}
	if err != nil {
		return nil, problem("", "cannot read file: "+err.Error())
	}
	var config map[string]any
	if err := yaml.Unmarshal(data, &config); err != nil {
		return nil, problem("", "invalid YAML: "+err.Error())
	}
	if _, err := m.ConfigSchema.ValidateConfig(config); err != nil {
		var pe *param.Error
		if !errors.As(err, &pe) {
			return nil, problem("", err.Error())
		}
		var probs []manifest.Problem
		for _, f := range pe.Fields {
			probs = append(probs, manifest.Problem{File: name, Field: f.Field, Message: f.Message})
		}
		return nil, probs
	}
	if len(m.ConfigSchema.SecretPaths()) > 0 && (s.sealer == nil || !s.sealer.HasKey()) {
		_, secrets := m.ConfigSchema.SplitSecrets(config)
		if len(secrets) > 0 {
			return nil, problem("", "sets secret fields, which need an encryption key: configure encryption_key or ATTUNE_ENCRYPTION_KEY")
		}
	}
	sum := sha256.Sum256(data)
	return &operatorFile{config: config, checksum: hex.EncodeToString(sum[:])}, nil
}

// applies reports whether the file sets the config of installed pack p:
// on the first install, and on any install after the file changed. An
// unchanged file is already in the config, or was overridden since through
// setPackConfig, whose values an upgrade keeps.
func (f *operatorFile) applies(p *ent.Pack) bool {
	return f != nil && (p == nil || f.checksum != p.ConfigFileChecksum)
}

// appliedChecksum is what the pack row records after this install: the
// file's checksum when applied, else what it recorded before.
func (f *operatorFile) appliedChecksum(p *ent.Pack) string {
	switch {
	case f.applies(p):
		return f.checksum
	case p != nil:
		return p.ConfigFileChecksum
	}
	return ""
}

// configWarnings names secret config fields a pack sets by default when no
// encryption key is configured: they are stored in the clear.
func (s *Service) configWarnings(m *manifest.Pack) []string {
	if s.configs.CanSeal() {
		return nil
	}
	_, secrets := m.ConfigSchema.SplitSecrets(m.Config)
	var out []string
	for _, p := range m.ConfigSchema.SecretPaths() {
		if v, ok := param.Lookup(secrets, p); ok && v != nil {
			out = append(out, "config field "+strings.Join(p, ".")+
				" is secret but no encryption key is configured (encryption_key or ATTUNE_ENCRYPTION_KEY): its default is stored unencrypted")
		}
	}
	sort.Strings(out)
	return out
}
